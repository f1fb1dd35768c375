"""The pool's default process count follows the CPUs the container may use, not the host's."""

from __future__ import annotations

import os

import pytest

from checker.pool import cgroup_cpu_limit, usable_cpus


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("200000 100000\n", 2),  # docker --cpus 2
        ("150000 100000\n", 2),  # 1.5 CPUs: a second process still gets half a CPU
        ("25000 100000\n", 1),  # Fargate's 0.25 vCPU: never fewer than one
        ("max 100000\n", None),  # no limit
        ("garbage\n", None),
        ("0 100000\n", None),
    ],
)
def test_it_reads_the_cgroup_v2_cpu_quota(tmp_path, content, expected):
    path = tmp_path / "cpu.max"
    path.write_text(content)
    assert cgroup_cpu_limit(str(path)) == expected


def test_a_missing_cpu_max_means_no_limit(tmp_path):
    assert cgroup_cpu_limit(str(tmp_path / "absent")) is None


def test_the_quota_caps_the_cpus_this_process_may_run_on(tmp_path):
    path = tmp_path / "cpu.max"
    affinity = len(os.sched_getaffinity(0))
    path.write_text("100000 100000\n")
    assert usable_cpus(str(path)) == 1
    path.write_text(f"{(affinity + 8) * 100000} 100000\n")
    assert usable_cpus(str(path)) == affinity  # a quota above the affinity mask does not add CPUs
    assert usable_cpus(str(tmp_path / "absent")) == affinity
