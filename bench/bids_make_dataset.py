#!/usr/bin/env python3
"""Writes a BIDS study laid out like a large multi-site dataset (about 30,000
files): SITES x SUBJECTS_PER_SITE subjects, two sessions each, with anat,
func (including task labels that share a prefix), dwi and fmap data, JSON
sidecars, root-level inherited sidecars, sessions and scans tables.

Usage: bids_make_dataset.py DIR [SITES] [SUBJECTS_PER_SITE] [T1W_BYTES] [--annex]

With --annex the folder becomes a git-annex dataset holding all content.
"""
import json
import os
import random
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = args[0]
sites = int(args[1]) if len(args) > 1 else 20
per_site = int(args[2]) if len(args) > 2 else 25
t1w_bytes = int(args[3]) if len(args) > 3 else 256 * 1024
rng = random.Random(42)


def write(rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)


def blob(n):
    return rng.randbytes(n)


write("dataset_description.json", json.dumps({"Name": "multi-site benchmark", "BIDSVersion": "1.11.0"}))
write("README", "Synthetic multi-site study for annexa benchmarks.\n")
write("CHANGES", "1.0.0 initial\n")
write("participants.json", json.dumps({"site": {"Description": "acquisition site"}}))
write("task-rest_bold.json", json.dumps({"TaskName": "rest", "RepetitionTime": 2.0}))
write("task-restEyesOpen_bold.json", json.dumps({"TaskName": "restEyesOpen", "RepetitionTime": 2.0}))
write("task-nback_bold.json", json.dumps({"TaskName": "nback", "RepetitionTime": 1.5}))
write("T1w.json", json.dumps({"MagneticFieldStrength": 3}))

participants = ["participant_id\tsite\tage"]
for site in range(1, sites + 1):
    for n in range(1, per_site + 1):
        sub = f"sub-{site:02d}{n:03d}"
        participants.append(f"{sub}\tsite{site:02d}\t{rng.randint(18, 80)}")
        write(f"{sub}/{sub}_sessions.tsv", "session_id\tacq_time\nses-1\t2020-01-01\nses-2\t2020-06-01\n")
        for ses in ("ses-1", "ses-2"):
            base = f"{sub}/{ses}"
            p = f"{sub}_{ses}"
            scans = ["filename\tacq_time"]
            files = {
                f"anat/{p}_T1w.nii.gz": blob(t1w_bytes),
                f"anat/{p}_T1w.json": json.dumps({"EchoTime": 0.003}),
                f"anat/{p}_T2w.nii.gz": blob(2048),
                f"anat/{p}_T2w.json": "{}",
                f"anat/{p}_FLAIR.nii.gz": blob(2048),
                f"anat/{p}_FLAIR.json": "{}",
                f"dwi/{p}_dwi.nii.gz": blob(4096),
                f"dwi/{p}_dwi.json": "{}",
                f"dwi/{p}_dwi.bval": "0 1000 1000\n",
                f"dwi/{p}_dwi.bvec": "0 1 0\n0 0 1\n0 0 0\n",
                f"fmap/{p}_magnitude1.nii.gz": blob(1024),
                f"fmap/{p}_magnitude2.nii.gz": blob(1024),
                f"fmap/{p}_phasediff.nii.gz": blob(1024),
                f"fmap/{p}_phasediff.json": "{}",
            }
            for task, runs in (("rest", 2), ("restEyesOpen", 1), ("nback", 2)):
                for run in range(1, runs + 1):
                    stem = f"func/{p}_task-{task}_run-{run}"
                    files[f"{stem}_bold.nii.gz"] = blob(4096)
                    files[f"{stem}_bold.json"] = "{}"
                    if task == "nback":
                        files[f"{stem}_events.tsv"] = "onset\tduration\n0\t1\n"
                    else:
                        files[f"{stem}_physio.tsv.gz"] = blob(512)
            for rel, data in files.items():
                write(f"{base}/{rel}", data)
                if rel.endswith(".nii.gz"):
                    scans.append(f"{rel}\t2020-01-01T00:00:00")
            write(f"{base}/{p}_scans.tsv", "\n".join(scans) + "\n")
write("participants.tsv", "\n".join(participants) + "\n")


def annex_in_bulk(root, small_suffixes=(".json", ".tsv", ".bval", ".bvec", "README", "CHANGES")):
    """Turns DIR into a git-annex dataset much faster than `git annex add`:
    content moves into .git/annex/objects under SHA256E keys (the layout
    git-annex itself uses), files become symlinks, one `git add`/commit,
    and one batched `git annex setpresentkey` records the content."""
    import hashlib
    import subprocess

    def git(*args, **kw):
        return subprocess.run(["git", "-C", root, *args], check=True, **kw)

    git("init", "-q")
    # No background `gc --auto` racing with the benchmark: pack once, at the end.
    git("config", "gc.auto", "0")
    git("annex", "init", "-q", "origin")
    uuid = subprocess.run(["git", "-C", root, "config", "annex.uuid"], check=True,
                          capture_output=True, text=True).stdout.strip()
    alphabet = "0123456789zqjxkmvwgpfZQJXKMVWGPF"
    present = []
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name.endswith(small_suffixes):
                continue
            with open(path, "rb") as f:
                data = f.read()
            ext = name[name.index("."):] if "." in name else ""
            key = f"SHA256E-s{len(data)}--{hashlib.sha256(data).hexdigest()}{ext}"
            word = int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "little")
            chars = [alphabet[(word >> (6 * i)) & 31] for i in range(8)]
            mixed = "".join(chars[i + 1] + chars[i] for i in range(0, 8, 2))[:4]
            rel_obj = f".git/annex/objects/{mixed[:2]}/{mixed[2:]}/{key}/{key}"
            obj = os.path.join(root, rel_obj)
            if not os.path.exists(obj):
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                os.replace(path, obj)
                os.chmod(obj, 0o444)
                present.append(key)
            else:
                os.remove(path)
            rel_dir = os.path.relpath(root, dirpath)
            os.symlink(os.path.join(rel_dir, rel_obj), path)
    git("add", "-A")
    git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--no-verify", "-m", "dataset")
    # Location logs written straight into the git-annex branch with one
    # fast-import (what `setpresentkey` does, minus a slow journal commit).
    import time
    stamp = int(time.time())
    parent = subprocess.run(["git", "-C", root, "rev-parse", "refs/heads/git-annex"], check=True,
                            capture_output=True, text=True).stdout.strip()
    body = "location logs of the benchmark dataset\n"
    stream = [f"commit refs/heads/git-annex\ncommitter bench <bench@example.org> {stamp} +0000\n"
              f"data {len(body)}\n{body}from {parent}\n"]
    for key in present:
        digest = hashlib.md5(key.encode()).hexdigest()
        log = f"{stamp}s 1 {uuid}\n"
        stream.append(f"M 100644 inline {digest[:3]}/{digest[3:6]}/{key}.log\ndata {len(log)}\n{log}")
    git("fast-import", "--quiet", input="".join(stream) + "\n", text=True)
    git("gc", "--quiet")


if "--annex" in sys.argv:
    annex_in_bulk(root)
