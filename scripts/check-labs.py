#!/usr/bin/env python3
"""Checks the teaching labs (labs/en, labs/ko): every command a lab asks a
student to paste must run, and both languages must ask for the same ones.

What it does, in order:

1. Pairs the labs: labs/en/NN-*.md and labs/ko/NN-*.md must exist in pairs
   (same file name). Files under answers/ are answer keys, not labs.
2. Extracts every fenced block that opens with exactly ```sh. Those are the
   "checked" blocks: commands a student runs. Anything else (```text,
   ```diff, ```console) is shown, not run: a lab uses ```text for a command
   that cannot run on the CI machine (e.g. the rig, which takes half an
   hour, or a code change) and says why next to it.
3. Compares the languages: per lab pair, the same number of sh blocks, and
   in each block the same words in the same order (shell words as bash
   reads them, comments dropped: a comment may be translated, a command
   may not).
4. Checks a rule of the labs: every measuring `vmvc run` (or
   `cargo run ... -- run`) in a checked block says `--quick`. The checker
   does NOT add --quick: the labs say it, because a student's first try
   should be the fast one too, and the checker fails a lab that forgets.
5. Runs each English lab's sh blocks in order, all of one lab in one
   `bash -e` started at the repository root, as a student pastes them into
   one terminal (a variable set in one block is there in the next). It
   fails on the first non-zero exit and prints the failing block and the
   tail of the lab's output. Commands that cannot run on
   a PVM host (vm-linux) are written to exit 0 with a message: vmvc itself
   skips those rows and says why.
6. Checks the blocks left the git tree as they found it (a lab that
   changes code shows the change in prose or a ```diff block).

`sudo`: the labs say `sudo scripts/setup.sh`, as a student types it. The
checker runs as root and puts a `sudo` shim first on PATH that runs its
arguments as they are (root already); it does not edit the commands. Not
root: the comparison still runs, the commands are skipped loudly, and
VMVC_REQUIRE_ROOT=1 (CI) turns that skip into a failure.

Usage: scripts/check-labs.py [--no-run] [--only NN]
The output of each lab goes to target/check-labs/<lab>.log.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABS = ROOT / "labs"
FENCE = re.compile(r"^\s*```(\S*)\s*$")
# One lab may run this long; the whole check should stay under ~5 min.
LAB_TIMEOUT_S = 600
MARK = "check-labs: block"


def blocks(path):
    """The fenced blocks of a Markdown file: [(lang, first_line_no, text)]."""
    out, lang, start, buf = [], None, 0, []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if lang is None and m:
            lang, start, buf = m.group(1), no + 1, []
        elif lang is not None and line.strip() == "```":
            out.append((lang, start, "\n".join(buf) + "\n"))
            lang = None
        elif lang is not None:
            buf.append(line)
    if lang is not None:
        raise SystemExit(f"{path}: a ``` block opened at line {start - 1} is never closed")
    return out


def sh_blocks(path):
    return [(no, text) for lang, no, text in blocks(path) if lang == "sh"]


def words(text):
    """Shell words, as bash splits them, without comments."""
    lex = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lex.whitespace_split = True
    lex.commenters = "#"
    return list(lex)


def lab_pairs():
    en = {p.name: p for p in sorted((LABS / "en").glob("[0-9][0-9]-*.md"))}
    ko = {p.name: p for p in sorted((LABS / "ko").glob("[0-9][0-9]-*.md"))}
    errors = []
    for name in sorted(set(en) ^ set(ko)):
        have = "en" if name in en else "ko"
        errors.append(f"labs/{have}/{name} has no counterpart in the other language")
    return [(en[n], ko[n]) for n in sorted(set(en) & set(ko))], errors


def compare(en, ko):
    errors = []
    a, b = sh_blocks(en), sh_blocks(ko)
    if len(a) != len(b):
        errors.append(
            f"{en.relative_to(ROOT)} has {len(a)} sh blocks, {ko.relative_to(ROOT)} has {len(b)}"
        )
    for (la, ta), (lb, tb) in zip(a, b):
        wa, wb = words(ta), words(tb)
        if wa != wb:
            diff = next((i for i, (x, y) in enumerate(zip(wa, wb)) if x != y), min(len(wa), len(wb)))
            errors.append(
                f"{en.relative_to(ROOT)}:{la} and {ko.relative_to(ROOT)}:{lb}: the commands differ "
                f"at word {diff}: {wa[diff:diff + 4]!r} vs {wb[diff:diff + 4]!r}"
            )
    return errors


RUN = re.compile(r"(?:\bvmvc|cargo run\b[^\n;&|]*?--)\s+run\b([^\n;&|]*)")


def quick_rule(path):
    """Every measuring `vmvc run` in a checked block says --quick."""
    errors = []
    for no, text in sh_blocks(path):
        joined = text.replace("\\\n", " ")
        for m in RUN.finditer(joined):
            if "--help" in m.group(1):
                continue
            if "--quick" not in m.group(1):
                errors.append(
                    f"{path.relative_to(ROOT)}:{no}: `{m.group(0).strip()}` measures without --quick"
                )
    return errors


def git_state():
    r = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT, capture_output=True, text=True,
    )
    return r.stdout if r.returncode == 0 else None


def run_lab(path, shim_dir, logdir):
    """Runs the lab's sh blocks in one `bash -e`, in order, as a student
    pastes them into one terminal (variables and the directory carry over
    from block to block); returns (ok, seconds)."""
    env = dict(os.environ)
    env["PATH"] = f"{shim_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    env.setdefault("TERM", "dumb")
    rel = path.relative_to(ROOT)
    script = []
    for i, (no, text) in enumerate(sh_blocks(path), 1):
        script.append(f"echo '{MARK} {i} {no}' >&2\n{text}")
    script.append(f"echo '{MARK} end' >&2\n")
    log = logdir / f"{path.stem}.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        try:
            r = subprocess.run(
                ["bash", "-e", "-c", "\n".join(script)], cwd=ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                timeout=LAB_TIMEOUT_S,
            )
            code = r.returncode
        except subprocess.TimeoutExpired:
            code = f"timeout after {LAB_TIMEOUT_S}s"
    took = time.monotonic() - t0
    lines = log.read_text(errors="replace").splitlines()
    # The blocks that started are the markers in the log.
    started = [l.split()[2:] for l in lines if l.startswith(MARK)]
    if code != 0:
        last = started[-1] if started else ["?", "?"]
        block = next(((no, t) for no, t in sh_blocks(path) if str(no) == last[-1]), (last[-1], ""))
        print(f"FAIL {rel}:{block[0]} (block {last[0]}, exit {code}, lab ran {took:.0f}s):")
        print("  " + block[1].rstrip().replace("\n", "\n  "))
        print(f"  --- last lines of the lab's output ({log}):")
        print("  | " + "\n  | ".join(lines[-40:]))
        return False, took
    print(f"  ok {rel}: {len(started) - 1} sh blocks in {took:.1f}s (output in {log})")
    return True, took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-run", action="store_true", help="compare and lint only")
    ap.add_argument("--only", metavar="NN", help="run only lab NN (e.g. 07)")
    args = ap.parse_args()

    pairs, errors = lab_pairs()
    if not pairs:
        errors.append("no labs found in labs/en and labs/ko")
    for en, ko in pairs:
        errors += compare(en, ko)
        errors += quick_rule(en)
    n_blocks = sum(len(sh_blocks(en)) for en, _ in pairs)
    print(f"check-labs: {len(pairs)} lab pairs, {n_blocks} sh blocks per language")
    if errors:
        for e in errors:
            print("FAIL " + e)
        return 1
    print("check-labs: English and Korean ask for the same commands; every vmvc run says --quick")
    if args.no_run:
        return 0
    if os.geteuid() != 0:
        msg = "check-labs: the labs' commands need root (namespaces, cgroups, /dev/kvm)"
        if os.environ.get("VMVC_REQUIRE_ROOT") == "1":
            print(msg + ", and VMVC_REQUIRE_ROOT=1 forbids skipping them", file=sys.stderr)
            return 1
        print(f"*** SKIPPED running the commands: {msg}; run as root ***", file=sys.stderr)
        return 0

    before = git_state()
    logdir = ROOT / "target" / "check-labs"
    logdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vmvc-check-labs-") as shim_dir:
        sudo = Path(shim_dir) / "sudo"
        # Root already: `sudo CMD...` runs CMD as it is.
        sudo.write_text('#!/bin/sh\nexec "$@"\n')
        sudo.chmod(0o755)
        for en, _ in pairs:
            if args.only and not en.name.startswith(args.only):
                continue
            print(f"check-labs: running {en.relative_to(ROOT)}")
            ok, _ = run_lab(en, shim_dir, logdir)
            if not ok:
                return 1
    after = git_state()
    if before is not None and after != before:
        print("FAIL the labs' commands changed the git tree:")
        print(after)
        return 1
    print(f"check-labs: all passed in {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
