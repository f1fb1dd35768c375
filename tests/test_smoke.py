from healthmon.models import Monitor


def test_it_stores_and_reads_a_monitor(db):
    m = Monitor.create(name="a", url="https://example.com/", check_interval=30, timeout=5)
    assert Monitor.get_by_id(m.id).status == "UNKNOWN"
