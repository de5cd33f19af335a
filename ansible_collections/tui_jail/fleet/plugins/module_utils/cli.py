"""Running `tui-jail` on the target for the collection's modules: one place that builds the command
line, writes the spec where tui-jail can read it, and turns a refusal into an Ansible failure that
carries tui-jail's own one-line reason."""

from __future__ import annotations

import json
import os
import tempfile

COMMON_OPTIONS = {
    "executable": {"type": "str", "default": "/usr/local/sbin/tui-jail"},
    "root": {"type": "path", "default": "/"},
}

SPEC_OPTIONS = {
    # the action plugin reads spec_file on the controller and hands its text over as spec
    "spec": {"type": "raw"},
    "spec_file": {"type": "path"},
}


def spec_text(spec):
    """Inline YAML arrives as text, or as a mapping Ansible parsed already (JSON is YAML to tui-jail)."""
    if isinstance(spec, dict):
        return json.dumps(spec)
    return str(spec)


def reason(err, out=""):
    """tui-jail's one-line reason: its last stderr line, without the program prefix."""
    lines = [line.strip() for line in (err or out or "").splitlines() if line.strip()]
    if not lines:
        return "tui-jail failed with no message"
    line = lines[-1]
    for prefix in ("tui-jail: ", "error: "):
        if line.startswith(prefix):
            line = line[len(prefix) :]
    return line


def run_unchecked(module, *args, spec=None):
    """Run tui-jail with `args` (`--spec FILE` appended when `spec` is given): (rc, stdout, stderr)."""
    command = [module.params["executable"], "--root", module.params["root"], *args]
    spec_path = None
    try:
        if spec is not None:
            fd, spec_path = tempfile.mkstemp(prefix="tui-jail-spec-", suffix=".yaml", dir=module.tmpdir)
            with os.fdopen(fd, "w") as handle:
                handle.write(spec_text(spec))
            command += ["--spec", spec_path]
        return module.run_command(command)
    finally:
        if spec_path is not None:
            os.unlink(spec_path)


def run(module, *args, spec=None):
    """As run_unchecked; a non-zero exit fails the task with tui-jail's reason. Returns stdout."""
    rc, out, err = run_unchecked(module, *args, spec=spec)
    if rc != 0:
        module.fail_json(msg=reason(err, out), rc=rc, stderr=err)
    return out


def run_json(module, *args, spec=None):
    out = run(module, *args, "--json", spec=spec)
    try:
        return json.loads(out)
    except ValueError:
        module.fail_json(msg="tui-jail printed no JSON document", stdout=out)


def diffs(plan):
    """Ansible's diff list: one entry per changed file, as `tui-jail plan` shows it."""
    return [
        {"before_header": f["path"], "after_header": f["path"], "prepared": f["diff"]}
        for f in plan.get("files", [])
        if f.get("changed")
    ]
