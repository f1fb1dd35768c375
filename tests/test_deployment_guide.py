"""docs/DEPLOYMENT.md, followed literally, names only things that exist.

Every ```bash block is split into simple commands (pipes, `&&`, `;`, `$(...)` and line continuations
undone, comments dropped) and each command is checked against the repository, in document order and
from the directory the reader is in (`cd` is followed; a `## ` section other than a STEP starts at the
root): files and directories, Terraform outputs, variables, resources and AWS names (cluster, services,
task definitions and their containers, log groups, ECR repositories, the database, the alarms), the
images the guide built before it tags and pushes them, `healthmon` subcommands and flags, `make` targets,
compose services, and every API call (path and method exist; a protected path carries the key). A
command of a program the checker does not know fails too, so a new kind of step needs a rule here.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from healthmon.cli import build_parser
from tests.terraform.hcl import CONF, containers, value

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "DEPLOYMENT.md"
TF = ROOT / "terraform"
PLACEHOLDER_ROOT = "/path/to/healthmon"
NAME = value("${local.name}")


def _tf(text: str) -> str:
    return text.replace("${local.name}", NAME)


CLUSTER = value(CONF["resource"][("aws_ecs_cluster", "main")]["name"])
SERVICES = {value(CONF["resource"][("aws_ecs_service", s)]["name"]) for s in ("api", "scheduler", "worker")}
TASK_CONTAINERS = {f"{NAME}-{key}": c["name"] for key, c in containers().items()}  # family -> container
LOG_GROUPS = {_tf(value(CONF["resource"][("aws_cloudwatch_log_group", "ecs")]["name"])).replace("${each.key}", key)
              for key in containers()}
ECR = {key: _tf(name) for key, name in value("${local.ecr_repositories}").items()}  # task key -> repository
DB_IDENTIFIER = _tf(value("${local.db_identifier}"))
ALARMS = {_tf(value(body["alarm_name"])) for (rtype, _), body in CONF["resource"].items()
          if rtype == "aws_cloudwatch_metric_alarm"}
ARCHITECTURES = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
PLATFORM = ARCHITECTURES[value(CONF["resource"][("aws_ecs_task_definition", "app")]["runtime_platform"][0][
    "cpu_architecture"])]
# The image a Dockerfile.<service> builds, and the ECR repository (task key) it is pushed to.
DOCKERFILE_TASK = {"api": "api", "scheduler": "scheduler", "worker": "worker", "dbinit": "db-init"}

# AWS CLI commands the guide may use; names in their arguments are checked below where they are ours.
AWS_COMMANDS = {
    ("sts", "get-caller-identity"), ("ecr", "get-login-password"), ("ecs", "update-service"),
    ("ecs", "run-task"), ("ecs", "wait"), ("ecs", "describe-services"), ("logs", "tail"),
    ("logs", "get-log-events"), ("logs", "delete-log-stream"), ("sqs", "get-queue-attributes"),
    ("sqs", "receive-message"), ("secretsmanager", "get-secret-value"), ("rds", "describe-db-instances"),
    ("cloudwatch", "describe-alarms"),
}
SQS_ATTRIBUTES = {"All", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesVisible",
                  "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed", "RedrivePolicy",
                  "VisibilityTimeout", "MessageRetentionPeriod", "QueueArn"}
# Programs whose arguments name nothing of ours.
PLAIN = {"echo", "jq", "grep", "tr", "cut", "openssl", "export", "sleep"}
API_BASES = ("$API_URL", "http://127.0.0.1:8000")


@dataclass
class Reader:
    """Where a reader following the guide is, and what the guide has made so far."""

    cwd: Path = ROOT
    images: dict[str, str] = field(default_factory=dict)  # local tag -> task key
    tagged: dict[str, str] = field(default_factory=dict)  # registry reference -> task key
    redirect: Path | None = None  # where the current command's `>` / `>>` writes
    problems: list[str] = field(default_factory=list)

    def fail(self, command: str, why: str) -> None:
        self.problems.append(f"{command!r}: {why}")


# --- Splitting the shell text -----------------------------------------------------------------------


def bash_blocks(text: str) -> list[tuple[str, str]]:
    """(the `## ` heading above it, the block's text) of every ```bash block."""
    blocks, heading = [], ""
    for match in re.finditer(r"^(## [^\n]*)$|^```bash\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL):
        if match.group(1):
            heading = match.group(1)
        else:
            blocks.append((heading, match.group(2)))
    return blocks


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _open_quote(line: str) -> bool:
    quote = None
    for ch in line:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
    return quote is not None


def logical_lines(block: str) -> list[tuple[str, str | None]]:
    """(command line, heredoc body or None): continuations joined, comments dropped, heredocs cut out."""
    lines, out, i = block.split("\n"), [], 0
    while i < len(lines):
        line = _strip_comment(lines[i])
        while i + 1 < len(lines) and (line.rstrip().endswith("\\") or _open_quote(line)):
            i += 1
            if _open_quote(line):  # a quoted argument over several lines (a JSON body)
                line = line + "\n" + lines[i]
            else:
                line = line.rstrip()[:-1] + " " + _strip_comment(lines[i]).strip()
        i += 1
        heredoc = re.search(r"<<\s*'?(\w+)'?", line)
        body = None
        if heredoc:
            end = lines.index(heredoc.group(1), i)
            body, i = "\n".join(lines[i:end]), end + 1
            line = line[: heredoc.start()]
        if line.strip():
            out.append((line.strip(), body))
    return out


def substitutions(line: str) -> tuple[str, list[str]]:
    """`line` with each outermost $(...) replaced by SUBST, and the inner commands."""
    inner, out, depth, start, i = [], [], 0, 0, 0
    while i < len(line):
        if line.startswith("$(", i):
            if depth == 0:
                start = i + 2
            depth += 1
            i += 2
            continue
        if line[i] == ")" and depth:
            depth -= 1
            if depth == 0:
                inner.append(line[start:i])
                out.append("SUBST")
            i += 1
            continue
        if depth == 0:
            out.append(line[i])
        i += 1
    return "".join(out), inner


def simple_commands(line: str) -> list[list[str]]:
    """The words of each simple command on a line, substitutions included (innermost last)."""
    outer, inner = substitutions(line)
    lexer = shlex.shlex(outer, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    commands, words = [], []
    for token in lexer:
        if token in ("|", "||", "&&", ";"):
            commands.append(words)
            words = []
        else:
            words.append(token)
    commands.append(words)
    for sub in inner:
        commands.extend(simple_commands(sub))
    return [c for c in commands if c]


# --- Checking one command --------------------------------------------------------------------------


ONE, MANY = 1, None  # how many words an option takes (an option not listed takes none)
TAKES = {
    "terraform": {"-var": ONE},
    "docker": {"-f": ONE, "-t": ONE, "--platform": ONE, "--username": ONE},
    "curl": {"-X": ONE, "-H": ONE, "-d": ONE, "--data": ONE, "-o": ONE},
    "aws": MANY,  # every aws option takes the words up to the next option, except the flags below
}
AWS_FLAGS = {"--force-new-deployment", "--follow", "--no-paginate"}


def _options(program: str, words: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Options ({name: values}; `--opt=value` too) and positional words, as `program` reads them."""
    takes = TAKES.get(program, {})
    opts: dict[str, list[str]] = {}
    positional: list[str] = []
    current, room = None, 0
    for word in words:
        if word.startswith("-") and len(word) > 1 and not word[1].isdigit():
            name, eq, rest = word.partition("=")
            opts.setdefault(name, [])
            if eq:
                opts[name].append(rest)
                current, room = None, 0
            elif takes is MANY:
                current, room = (None, 0) if name in AWS_FLAGS else (name, -1)
            else:
                current, room = (name, takes[name]) if name in takes else (None, 0)
        elif current is not None and room != 0:
            opts[current].append(word)
            room -= 1
        else:
            positional.append(word)
    return opts, positional


def _path(reader: Reader, text: str) -> Path:
    if text == PLACEHOLDER_ROOT or text.startswith(PLACEHOLDER_ROOT + "/"):
        return ROOT / text[len(PLACEHOLDER_ROOT) :].lstrip("/")
    return (reader.cwd / text).resolve()


def check_cd(reader: Reader, words: list[str], _body) -> None:
    target = _path(reader, words[1])
    if not target.is_dir() or not target.is_relative_to(ROOT):
        reader.fail(" ".join(words), f"no directory {target}")
        return
    reader.cwd = target


def _literal(text: str) -> object:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    return None


def check_tfvars(reader: Reader, command: str, body: str) -> None:
    for line in body.splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, _, raw = line.partition("=")
        name = name.strip()
        variable = CONF["variable"].get(name)
        if variable is None:
            reader.fail(command, f"terraform.tfvars sets {name}, which variables.tf does not declare")
            continue
        literal, kind = _literal(raw), variable["type"].strip("${}")
        expected = {"bool": bool, "number": float, "string": str}.get(kind)
        if expected and not isinstance(literal, expected):
            reader.fail(command, f"{name} is a {kind}, the guide gives {raw.strip()}")
        if name == "db_password" and not re.fullmatch(r"[^/@\"' ?#%\[\]]{16,128}", str(literal)):
            reader.fail(command, "db_password fails the variable's validation")


def check_cat(reader: Reader, words: list[str], body) -> None:
    command = " ".join(words)
    path = reader.redirect
    if path is None:
        for name in words[1:]:
            if not _path(reader, name).is_file():
                reader.fail(command, f"no file {name}")
        return
    if path.name == "terraform.tfvars":
        if path.parent != TF:
            reader.fail(command, "terraform.tfvars must be written in terraform/")
        check_tfvars(reader, command, body or "")


def _resource_exists(address: str) -> bool:
    rtype, _, name = address.partition(".")
    return (rtype, re.sub(r"\[.*\]$", "", name)) in CONF["resource"]


def check_terraform(reader: Reader, words: list[str], _body) -> None:
    command = " ".join(words)
    chdir = next((w.split("=", 1)[1] for w in words if w.startswith("-chdir=")), None)
    workdir = _path(reader, chdir) if chdir else reader.cwd
    rest = [w for w in words[1:] if not w.startswith("-chdir=")]
    sub, args = rest[0], rest[1:]
    if sub == "fmt":
        for target in (a for a in args if not a.startswith("-")):
            if not _path(reader, target).is_dir():
                reader.fail(command, f"no directory {target}")
        return
    if sub not in ("init", "plan", "apply", "destroy", "output", "validate", "test"):
        reader.fail(command, f"unknown terraform subcommand {sub}")
        return
    if workdir != TF:
        reader.fail(command, f"runs in {workdir.relative_to(ROOT) if workdir.is_relative_to(ROOT) else workdir}, "
                             "not in terraform/")
    opts, positional = _options("terraform", args)
    if sub == "output":
        for name in positional:
            if name not in CONF["output"]:
                reader.fail(command, f"no output {name}")
        return
    for address in opts.get("-target", []) + opts.get("-replace", []):
        if not _resource_exists(address):
            reader.fail(command, f"no resource {address}")
    for assignment in opts.get("-var", []):
        if assignment.split("=", 1)[0] not in CONF["variable"]:
            reader.fail(command, f"no variable {assignment}")


def _repository(reference: str) -> str | None:
    m = re.fullmatch(r"\$AWS_ACCOUNT_ID\.dkr\.ecr\.\$AWS_REGION\.amazonaws\.com/([\w-]+):[\w.-]+", reference)
    return m.group(1) if m else None


def check_docker(reader: Reader, words: list[str], _body) -> None:
    command = " ".join(words)
    sub, args = words[1], words[2:]
    opts, positional = _options("docker", args)
    if sub == "build":
        dockerfile = _path(reader, opts.get("-f", ["Dockerfile"])[0])
        if not dockerfile.is_file():
            reader.fail(command, f"no Dockerfile {dockerfile}")
            return
        if positional != ["."] or reader.cwd != ROOT:
            reader.fail(command, "the build context must be the repository root")
        if opts.get("--platform", [PLATFORM]) != [PLATFORM]:
            reader.fail(command, f"the task definitions run {PLATFORM}")
        service = dockerfile.name.partition(".")[2]
        for tag in opts.get("-t", []):
            reader.images[tag.split(":")[0]] = DOCKERFILE_TASK.get(service, "")
        return
    if sub == "tag":
        source, target = positional
        task = reader.images.get(source.split(":")[0])
        if task is None:
            reader.fail(command, f"{source} was not built before")
        elif _repository(target) != ECR.get(task):
            reader.fail(command, f"{source} is the {task} image; its repository is {ECR.get(task)}")
        reader.tagged[target] = task or ""
        return
    if sub == "push":
        if positional[0] not in reader.tagged:
            reader.fail(command, f"{positional[0]} was not tagged before")
        return
    if sub == "login":
        return
    if sub == "compose":
        compose = _path(reader, opts.get("-f", ["compose.yml"])[0])
        if not compose.is_file():
            reader.fail(command, f"no compose file {compose}")
            return
        services = yaml.safe_load(compose.read_text())["services"]
        if "run" in positional:
            run = positional[positional.index("run") + 1 :]
            if run[0] not in services:
                reader.fail(command, f"no compose service {run[0]}")
            if run[1:2] == ["healthmon"]:
                check_healthmon(reader, run[1:], None)
        return
    reader.fail(command, f"unknown docker subcommand {sub}")


def check_aws(reader: Reader, words: list[str], _body) -> None:
    command = " ".join(words)
    service, operation = words[1], words[2]
    if (service, operation) not in AWS_COMMANDS:
        reader.fail(command, f"aws {service} {operation} is not a command this checker knows")
        return
    opts, positional = _options("aws", words[3:])

    def expect(option: str, allowed: set[str], what: str) -> None:
        for name in opts.get(option, []):
            if name not in allowed:
                reader.fail(command, f"no {what} {name}")

    expect("--cluster", {CLUSTER}, "ECS cluster")
    expect("--service", SERVICES, "ECS service")
    expect("--services", SERVICES, "ECS service")
    expect("--task-definition", set(TASK_CONTAINERS), "task definition")
    expect("--log-group-name", LOG_GROUPS, "log group")
    expect("--db-instance-identifier", {DB_IDENTIFIER}, "database")
    expect("--alarm-names", ALARMS, "alarm")
    expect("--attribute-names", SQS_ATTRIBUTES, "SQS attribute")
    if (service, operation) == ("logs", "tail"):
        for group in positional:
            if group not in LOG_GROUPS:
                reader.fail(command, f"no log group {group}")
    if (service, operation) == ("ecs", "wait") and positional[0] not in ("services-stable", "tasks-stopped"):
        reader.fail(command, f"aws ecs wait {positional[0]} is not a waiter this checker knows")
    for raw in opts.get("--overrides", []):
        family = opts.get("--task-definition", [""])[0]
        for override in json.loads(raw)["containerOverrides"]:
            if override["name"] != TASK_CONTAINERS.get(family):
                reader.fail(command, f"{family} has no container {override['name']}")
            if override.get("command", [None])[0] == "healthmon":
                check_healthmon(reader, override["command"], None)


def check_healthmon(reader: Reader, words: list[str], _body) -> None:
    try:
        build_parser().parse_args(words[1:])
    except SystemExit:
        reader.fail(" ".join(words), "healthmon refuses these arguments")


def check_make(reader: Reader, words: list[str], _body) -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    for target in words[1:]:
        if target not in targets:
            reader.fail(" ".join(words), f"no make target {target}")


_APP = {}


def _client():
    """A test client of the real API app, on a throwaway SQLite database (restores the bound database)."""
    if "client" not in _APP:
        from healthmon.db import database
        from healthmon.settings import Settings
        from webapp.app import create_app

        previous = database.obj
        app = create_app(Settings.from_env({"DATABASE_URL": "sqlite:///:memory:"}), TESTING=True)
        if previous is not None:
            database.initialize(previous)
        _APP["client"] = app.test_client()
    return _APP["client"]


def check_curl(reader: Reader, words: list[str], _body) -> None:
    command = " ".join(words)
    opts, positional = _options("curl", words[1:])
    urls = [w for w in positional if w.startswith(API_BASES)]
    if not urls:
        return  # a receiver of our alerts (the Slack webhook test), not the API
    data = opts.get("-d", [])
    method = opts.get("-X", ["POST" if data else "GET"])[0]
    headers = opts.get("-H", [])
    for url in urls:
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        if url.startswith("$API_URL"):
            path = url[len("$API_URL") :] or "/"
        status = _client().open(path, method=method).status_code
        if status in (404, 405):
            reader.fail(command, f"the API has no {method} {path} ({status})")
        authorized = any(h in ("$AUTH",) or h.startswith("Authorization: Bearer ") for h in headers)
        if status == 401 and not authorized:
            reader.fail(command, f"{method} {path} needs the API key header")
        for body in data:
            try:
                json.loads(body)
            except ValueError:
                reader.fail(command, "the -d body is not JSON")
            else:
                _check_monitor_body(reader, command, method, path, json.loads(body))


def _check_monitor_body(reader: Reader, command: str, method: str, path: str, body: dict) -> None:
    from webapp.schemas import MonitorCreateSchema

    if path == "/monitors" and method == "POST":
        unknown = set(body) - set(MonitorCreateSchema().fields)
        if unknown:
            reader.fail(command, f"a monitor has no fields {sorted(unknown)}")


def check_program(reader: Reader, words: list[str], _body) -> None:
    """A path to a program in the repository (scripts/checkov.sh, .venv/bin/pytest tests/...)."""
    command = " ".join(words)
    program = words[0]
    if program.startswith(".venv/bin/"):
        if program != ".venv/bin/pytest":
            reader.fail(command, f"{program}: only .venv/bin/pytest is known here")
    elif not _path(reader, program).is_file():
        reader.fail(command, f"no program {program}")
    for arg in words[1:]:
        if re.fullmatch(r"tests/[\w/.]+", arg) and not _path(reader, arg).exists():
            reader.fail(command, f"no test path {arg}")


CHECKS = {
    "cd": check_cd, "cat": check_cat, "terraform": check_terraform, "docker": check_docker, "aws": check_aws,
    "healthmon": check_healthmon, "make": check_make, "curl": check_curl,
}


def check_command(reader: Reader, words: list[str], body: str | None) -> None:
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):  # VAR=value before a command
        words = words[1:]
    if not words or words[0] == "SUBST":
        return
    reader.redirect = None
    for i, word in enumerate(words[:-1]):
        if word in (">", ">>"):
            reader.redirect = _path(reader, words[i + 1])
            if not reader.redirect.parent.is_dir():
                reader.fail(" ".join(words), f"no directory for {words[i + 1]}")
            words = words[:i] + words[i + 2 :]
            break
    program = words[0]
    if program in CHECKS:
        CHECKS[program](reader, words, body)
    elif "/" in program:
        check_program(reader, words, body)
    elif program not in PLAIN:
        reader.fail(" ".join(words), f"{program}: a program this checker does not know")


def check_guide(text: str) -> list[str]:
    reader, section = Reader(), None
    for heading, block in bash_blocks(text):
        if heading != section and not heading.startswith("## STEP"):
            reader.cwd = ROOT  # a reader may start a section such as "Cleanup" from here
        section = heading
        for line, body in logical_lines(block):
            for words in simple_commands(line):
                check_command(reader, words, body)
    return reader.problems


# --- The tests -------------------------------------------------------------------------------------


def test_every_command_of_the_guide_names_something_that_exists():
    problems = check_guide(GUIDE.read_text())
    assert not problems, "\n".join(problems)


def test_the_guide_has_the_guides_steps_in_order():
    steps = [int(n) for n in re.findall(r"^## STEP (\d+):", GUIDE.read_text(), flags=re.MULTILINE)]
    assert steps == list(range(1, 13))


def test_the_guide_uses_every_output_of_the_reference_guide_and_the_key():
    text = GUIDE.read_text()
    for output in ("api_url", "ecr_repositories", "sqs_queue_url", "ecs_cluster_name", "public_subnet_ids",
                   "ecs_security_group_id", "initial_api_key_secret_arn"):
        assert f"terraform output {output}" in text or f"output -raw {output}" in text \
            or f"output -json {output}" in text, output


def test_the_guide_states_the_terraform_version_versions_tf_requires():
    required = re.search(r'required_version\s*=\s*">= ([\d.]+)"', (TF / "versions.tf").read_text()).group(1)
    text = GUIDE.read_text()
    assert f"Terraform {required} or newer" in text and f"`>= {required}`" in text
    assert set(re.findall(r"Terraform (?:v)?(\d+\.\d+)\+? or newer", text)) == {required}


def test_outputs_json_is_git_ignored():
    assert "outputs.json" in (ROOT / ".gitignore").read_text().split()


BAD = [
    ("cd terraform\nterraform output nope", "no output nope"),
    ("terraform output api_url", "not in terraform/"),
    ("cd terraform\nterraform apply -target=aws_ecr_repository.nope", "no resource"),
    ("cd terraform\ncat > terraform.tfvars << 'EOF'\ndb_pasword = \"x\"\nEOF", "does not declare"),
    ("cd terraform\ncat > terraform.tfvars << 'EOF'\ndb_password = \"short\"\nEOF", "validation"),
    ("docker build -f docker/Dockerfile.nope -t hm-x .", "no Dockerfile"),
    ("docker build -f docker/Dockerfile.api -t hm-api .\n"
     "docker tag hm-api:latest $AWS_ACCOUNT_ID.dkr.ecr.$AWS_REGION.amazonaws.com/health-monitor-worker:latest",
     "its repository is health-monitor-api"),
    ("docker push $AWS_ACCOUNT_ID.dkr.ecr.$AWS_REGION.amazonaws.com/health-monitor-api:latest", "not tagged"),
    ("docker build --platform linux/arm64 -f docker/Dockerfile.api -t hm-api .", "task definitions run"),
    ("aws ecs update-service --cluster health-monitor-cluster --service health-monitor-nope", "no ECS service"),
    ("aws logs tail /ecs/health-monitor-nope --follow", "no log group"),
    ("aws ecs run-task --cluster health-monitor-cluster --task-definition health-monitor-db-init "
     "--overrides '{\"containerOverrides\":[{\"name\":\"db-init\",\"command\":[\"healthmon\",\"key\"]}]}'",
     "healthmon refuses"),
    ("aws ec2 describe-nothing", "not a command this checker knows"),
    ("X=$(terraform -chdir=terraform output -raw nope)", "no output nope"),
    ("curl $API_URL/monitors", "needs the API key header"),
    ("curl -H \"$AUTH\" $API_URL/nope", "has no GET /nope"),
    ("curl -X POST -H \"$AUTH\" $API_URL/monitors -d '{\"nam\": \"x\"}'", "no fields"),
    ("healthmon api-key make", "healthmon refuses"),
    ("make deploy", "no make target"),
    ("cd nowhere", "no directory"),
    ("kubectl apply -f x.yml", "does not know"),
]


@pytest.mark.parametrize(("block", "problem"), BAD, ids=[b.splitlines()[-1][:50] for b, _ in BAD])
def test_the_checker_catches_a_command_that_names_nothing(block, problem):
    problems = check_guide(f"## STEP 1: x\n\n```bash\n{block}\n```\n")
    assert any(problem in p for p in problems), problems


def test_the_checker_accepts_the_guides_own_commands():
    good = (
        "cd /path/to/healthmon\n"
        "SUBNET_1=$(terraform -chdir=terraform output -json public_subnet_ids | jq -r '.[0]')  # comment\n"
        "curl -X POST $API_URL/monitors \\\n  -H \"$AUTH\" \\\n  -d '{\"name\": \"x\", \"url\": \"https://e.com/\"}'\n"
        "curl $API_URL/health\n"
    )
    assert check_guide(f"## STEP 1: x\n\n```bash\n{good}\n```\n") == []
