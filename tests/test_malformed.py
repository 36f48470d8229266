#!/usr/bin/python3
"""test_malformed.py - runs `lucid info` and `lucid run` on the malformed-model corpus and checks each failure is clean.

    /usr/bin/python3 tests/test_malformed.py --lucid BUILD/lucid [--corpus DIR] [--timeout S]
                                              [--cases a,b] [--keep]

Writes the corpus with tests/malformed/make_corpus.py (into --corpus, or a temporary
folder), then for every case and both commands asserts:

  - the exit code is one the case expects (a signal, or 134/139 from a shell, is a crash);
  - the command ends within the timeout (a hang is a failure);
  - stderr is exactly one line, `lucid: <file>: <message>`, naming the case's file and
    containing the case's expected substrings;
  - no AddressSanitizer/UBSan/LeakSanitizer report appears.

Under a sanitizer build (cmake -DLUCID_SANITIZE=ON) the sanitizers get their own exit
codes (86 ASan/LSan, 87 UBSan), so a report can never pass for an expected exit code.
Ends with "N passed, M failed"; exits 1 if anything failed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "malformed"))

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:", "ERROR: ")
CRASH_CODES = (134, 136, 137, 139)


def sanitizer_env():
    env = dict(os.environ)
    asan = "exitcode=86:abort_on_error=0:detect_leaks=1:allocator_may_return_null=1"
    ubsan = "exitcode=87:halt_on_error=1:print_stacktrace=1"
    # Options the caller set come last, so they win.
    env["ASAN_OPTIONS"] = asan + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
    env["UBSAN_OPTIONS"] = ubsan + (":" + env["UBSAN_OPTIONS"] if env.get("UBSAN_OPTIONS") else "")
    env["LSAN_OPTIONS"] = "exitcode=86" + (":" + env["LSAN_OPTIONS"] if env.get("LSAN_OPTIONS") else "")
    return env


def run_one(cmd, timeout, env):
    """Returns (returncode or None on timeout, stdout, stderr, seconds)."""
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           env=env, stdin=subprocess.DEVNULL)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = None, e.stdout or b"", e.stderr or b""
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.time() - t0


def check(case, what, rc, err, expected_codes):
    """Returns a list of problems (empty: passed)."""
    problems = []
    if rc is None:
        return ["hung (killed after the timeout)"]
    if rc < 0:
        problems.append("killed by signal %d" % -rc)
    elif rc in CRASH_CODES:
        problems.append("exit code %d looks like a crash" % rc)
    elif rc in (86, 87):
        problems.append("sanitizer report (exit code %d)" % rc)
    if rc not in expected_codes:
        problems.append("exit code %d, expected %s" % (rc, " or ".join(map(str, expected_codes))))
    if any(mark in err for mark in SANITIZER_MARKS):
        problems.append("sanitizer or error report on stderr")
    lines = err.splitlines()
    if expected_codes == [0]:
        # notes ('lucid: note: built a plan in ...') are allowed; anything else is not
        lines = [l for l in lines if not l.startswith("lucid: note: ")]
        if lines:
            problems.append("%d stderr line(s) from a successful command" % len(lines))
        return problems
    if rc == 0:
        return problems
    if len(lines) != 1 or not err.endswith("\n"):
        problems.append("%d stderr lines, expected exactly one ending in a newline" % len(lines))
    line = lines[0] if lines else ""
    if not line.startswith("lucid: "):
        problems.append("stderr line does not start with 'lucid: '")
    if not any(f in line for f in case["files"]):
        problems.append("message names none of the files %s" % case["files"])
    for s in case["must"]:
        if s not in line:
            problems.append("message lacks %r" % s)
    if case["any"] and not any(s.lower() in line.lower() for s in case["any"]):
        problems.append("message contains none of %s" % case["any"])
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check lucid's handling of malformed models.")
    ap.add_argument("--lucid", required=True, help="path to the lucid CLI")
    ap.add_argument("--corpus", help="folder to write the corpus into (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per command (default 30)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary corpus")
    args = ap.parse_args(argv)

    lucid = os.path.abspath(args.lucid)
    if not os.access(lucid, os.X_OK):
        sys.stderr.write("test_malformed.py: %s is not an executable\n" % lucid)
        return 1
    import make_corpus

    tmp = None
    corpus = args.corpus
    if not corpus:
        tmp = tempfile.mkdtemp(prefix="lucid-malformed-")
        corpus = os.path.join(tmp, "corpus")
    corpus = os.path.abspath(corpus)
    if make_corpus.main(["make_corpus.py", corpus]) != 0:
        return 1
    with open(os.path.join(corpus, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    cases = manifest["cases"]
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    if wanted:
        unknown = set(wanted) - {c["name"] for c in cases}
        if unknown:
            sys.stderr.write("test_malformed.py: unknown case(s) %s\n" % ", ".join(sorted(unknown)))
            return 1
        cases = [c for c in cases if c["name"] in wanted]
    input_npy = os.path.join(corpus, manifest["input"])
    env = sanitizer_env()
    outdir = os.path.join(tmp or corpus, "run-out")

    passed = failed = 0
    for case in cases:
        model = os.path.join(corpus, case["path"])
        cmds = [
            ("info", [lucid, "info", model], case["info_code"]),
            ("run", [lucid, "run", model, "--input", "input=" + input_npy, "--output-dir", outdir],
             case["run_code"]),
        ]
        for what, cmd, codes in cmds:
            rc, out, err, secs = run_one(cmd, args.timeout, env)
            problems = check(case, what, rc, err, codes)
            label = "%s %s" % (what, case["name"])
            if problems:
                failed += 1
                print("FAIL %-40s %s" % (label, "; ".join(problems)))
                print("     why: %s" % case["why"])
                print("     cmd: %s" % " ".join(cmd))
                print("     exit %s, %.2f s, stderr:" % (rc, secs))
                for line in err.splitlines()[:40]:
                    print("       | " + line)
            else:
                passed += 1
                shown = err.strip().splitlines()[0] if err.strip() else "(ok)"
                print("ok   %-40s exit %s  %s" % (label, rc, shown))
    if tmp and not args.keep:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
