#!/usr/bin/python3
"""Train and evaluate SASRec in PyTorch on a prepared cammsr dataset (developer-only reference).

Usage:
    /usr/bin/python3 bench/pytorch/sasrec_train.py --data <prepared dir> \
        [--seed 1] [--epochs 200] [--patience 10] [--threads 1] [--json]

Runs the same protocol as `cammsr train --model sasrec` with the default config, so that a
result of our TypeScript engine can be checked against an independent implementation:

- Split: chronological leave-one-out (last item = test target, second-to-last = validation
  target, the rest = training); users with fewer than 3 interactions train only.
- Training: one window per user with at least 2 training items: inputs train[:-1], targets
  train[1:], the most recent maxLen (50) positions, right-padded (position 0 = oldest item of
  the window). Full-softmax cross-entropy at every non-padding position over all items + 1
  columns of the item table (padding column included, as in RecBole; 0 is never a target).
  Adam (lr 1e-3), 256 sequences per batch, reshuffled every epoch.
- Model: RecBole's SASRec from sasrec_step.py (d 64, 2 layers, 2 heads, FFN 256, dropout 0.5),
  with the padding row of the item table starting at zero as in our engine.
- Early stopping on validation NDCG@10 (history not masked) after `--patience` epochs in a row
  without a strictly better value; the best epoch's parameters are evaluated on the test split.
- Evaluation: full ranking over items 1..N, rank = 1 + the number of other items scoring >= the
  target (pessimistic ties); history = the training part (validation) or training part +
  validation item (test), its last maxLen items fed to the model. "Masked" removes every item
  of the full history from the ranking except the target.

Prints one line per epoch (epoch, mean loss, validation NDCG@10, seconds), then a table of the
test metrics (not masked and masked). With --json the last line of stdout is one JSON object:
{"epochs", "best_epoch", "stopped_early", "best_val_ndcg10", "per_epoch": [{"epoch", "loss",
"val_ndcg10", "seconds"}], "validation", "test", "testMasked", "train_seconds",
"torch_version", "threads", "seed"}.
"""

import argparse
import copy
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see sasrec_step.py

import numpy as np
import torch
import torch.nn.functional as F

from blas_threads import set_threads  # noqa: E402 (after torch loads OpenBLAS)
from sasrec_step import SASRec  # noqa: E402

MAX_LEN = 50
D, LAYERS, HEADS, FFN, DROPOUT = 64, 2, 2, 256, 0.5
LR = 1e-3
BATCH = 256
EVAL_BATCH = 256
KS = (5, 10, 20)
MIN_EVAL_LENGTH = 3


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="dataset directory written by `cammsr prepare`")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--patience", type=int, default=10, help="0 = never stop early")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args()
    if args.epochs < 1 or args.patience < 0 or args.threads < 1:
        sys.exit("need --epochs >= 1, --patience >= 0, --threads >= 1")
    return args


def load_sequences(data_dir):
    """Item sequences of users 1..U (oldest first) and the item count N, from the .npy files."""
    with open(os.path.join(data_dir, "manifest.json")) as f:
        manifest = json.load(f)
    offsets = np.load(os.path.join(data_dir, "sequences.offsets.npy")).astype(np.int64)
    items = np.load(os.path.join(data_dir, "sequences.items.npy")).astype(np.int64)
    n_items = manifest["counts"]["items"]
    if len(offsets) != manifest["counts"]["users"] + 1 or offsets[-1] != len(items):
        sys.exit(f"{data_dir}: sequences.offsets.npy does not fit the manifest / sequences.items.npy")
    if items.min() < 1 or items.max() > n_items:
        sys.exit(f"{data_dir}: item id outside 1..{n_items}")
    seqs = [items[offsets[u]:offsets[u + 1]] for u in range(len(offsets) - 1)]
    return seqs, n_items


def leave_one_out(seqs):
    """train (one array per user), validation and test cases as (history, target) pairs."""
    train, validation, test = [], [], []
    for s in seqs:
        n = len(s)
        if n < MIN_EVAL_LENGTH:
            train.append(s)
            continue
        train.append(s[: n - 2])
        validation.append((s[: n - 2], int(s[n - 2])))
        test.append((s[: n - 1], int(s[n - 1])))
    return train, validation, test


def right_pad(rows, width):
    out = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.from_numpy(np.asarray(r, dtype=np.int64))
    return out


def training_windows(train):
    """Inputs and targets [W, MAX_LEN], right-padded: the last MAX_LEN positions of each user."""
    inputs, targets = [], []
    for s in train:
        n = min(MAX_LEN, len(s) - 1)
        if n < 1:
            continue  # fewer than 2 training items: no window
        start = len(s) - 1 - n
        inputs.append(s[start : start + n])
        targets.append(s[start + 1 : start + 1 + n])
    return right_pad(inputs, MAX_LEN), right_pad(targets, MAX_LEN)


def trim(*tensors):
    """Drops the trailing columns that are padding in every row (no effect on valid positions:
    right padding, causal mask)."""
    width = int((tensors[0] != 0).sum(dim=1).max())
    return [t[:, :width] for t in tensors]


def train_epoch(model, opt, inputs, targets, gen):
    model.train()
    order = torch.randperm(inputs.shape[0], generator=gen)
    total, batches = 0.0, 0
    for start in range(0, len(order), BATCH):
        idx = order[start : start + BATCH]
        seq, tgt = trim(inputs[idx], targets[idx])
        valid = seq != 0
        opt.zero_grad(set_to_none=True)
        h = model(seq)[valid]  # [R, d]
        logits = h @ model.item_emb.weight.t()  # [R, N + 1], padding column included
        loss = F.cross_entropy(logits, tgt[valid])
        loss.backward()
        opt.step()
        total += loss.item()
        batches += 1
    return total / batches


@torch.no_grad()
def ranks_of(model, cases, n_items, mask_history):
    """1-based rank of each case's target among items 1..N, pessimistic ties."""
    model.eval()
    ranks = torch.empty(len(cases), dtype=torch.long)
    for start in range(0, len(cases), EVAL_BATCH):
        chunk = cases[start : start + EVAL_BATCH]
        seq = right_pad([h[-MAX_LEN:] for h, _ in chunk], MAX_LEN)
        seq = trim(seq)[0]
        last = (seq != 0).sum(dim=1) - 1
        h = model(seq)[torch.arange(len(chunk)), last]  # [B, d]
        scores = h @ model.item_emb.weight.t()  # [B, N + 1]
        target = torch.tensor([t for _, t in chunk])
        t_score = scores.gather(1, target.unsqueeze(1))  # [B, 1]
        excluded = torch.zeros(scores.shape, dtype=torch.bool)
        excluded[:, 0] = True  # padding is never ranked
        if mask_history:
            for b, (hist, _) in enumerate(chunk):
                excluded[b, torch.from_numpy(np.asarray(hist, dtype=np.int64))] = True
        excluded[torch.arange(len(chunk)), target] = False  # the target always stays
        # Items ranked above the target: not strictly below it (>=, or NaN); minus the target itself.
        above = (~(scores < t_score) & ~excluded).sum(dim=1) - 1
        nan_target = torch.isnan(t_score.squeeze(1))
        ranks[start : start + len(chunk)] = torch.where(nan_target, torch.full_like(above, n_items), 1 + above)
    return ranks


def metrics_from_ranks(ranks):
    r = ranks.double()
    out = {}
    for k in KS:
        hit = r <= k
        out[f"HR@{k}"] = hit.double().mean().item()
        out[f"NDCG@{k}"] = torch.where(hit, 1.0 / torch.log2(r + 1), torch.zeros_like(r)).mean().item()
        out[f"MRR@{k}"] = torch.where(hit, 1.0 / r, torch.zeros_like(r)).mean().item()
    return out


def evaluate(model, cases, n_items, mask_history=False):
    return metrics_from_ranks(ranks_of(model, cases, n_items, mask_history))


def main():
    args = parse_args()
    blas_threads = set_threads(torch, args.threads)

    seqs, n_items = load_sequences(args.data)
    train, validation, test = leave_one_out(seqs)
    inputs, targets = training_windows(train)
    print(f"PyTorch SASRec  torch {torch.__version__}  threads {torch.get_num_threads()}  BLAS threads "
          f"{blas_threads}  data {args.data}")
    print(f"  users {len(seqs)}, items {n_items}, training windows {inputs.shape[0]}, "
          f"target positions {int((inputs != 0).sum())}, evaluated users {len(test)}, seed {args.seed}")

    torch.manual_seed(args.seed)
    model = SASRec(n_items, MAX_LEN, D, LAYERS, HEADS, FFN, DROPOUT)
    with torch.no_grad():
        model.item_emb.weight[0].zero_()  # our engine starts the padding row at zero
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(args.seed * 1_000_003 + 1)

    best = {"value": -float("inf"), "epoch": 0, "state": None}
    since_best, stopped_early, per_epoch, train_seconds = 0, False, [], 0.0
    print(f"  {'epoch':>5} {'loss':>8} {'val NDCG@10':>12} {'seconds':>8}")
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = train_epoch(model, opt, inputs, targets, gen)
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        val = evaluate(model, validation, n_items)["NDCG@10"]
        per_epoch.append({"epoch": epoch, "loss": loss, "val_ndcg10": val, "seconds": round(seconds, 1)})
        mark = ""
        if val > best["value"]:
            best = {"value": val, "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
            since_best, mark = 0, " *"
        else:
            since_best += 1
        print(f"  {epoch:>5} {loss:>8.4f} {val:>12.5f} {seconds:>8.1f}{mark}", flush=True)
        if args.patience > 0 and since_best >= args.patience:
            stopped_early = True
            break

    model.load_state_dict(best["state"])
    res = {
        "epochs": per_epoch[-1]["epoch"],
        "best_epoch": best["epoch"],
        "stopped_early": stopped_early,
        "best_val_ndcg10": best["value"],
        "per_epoch": per_epoch,
        "validation": evaluate(model, validation, n_items),
        "test": evaluate(model, test, n_items),
        "testMasked": evaluate(model, test, n_items, mask_history=True),
        "train_seconds": round(train_seconds, 1),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "seed": args.seed,
    }

    print(f"best epoch {res['best_epoch']} of {res['epochs']} (val NDCG@10 {res['best_val_ndcg10']:.5f}), "
          f"{'stopped early' if stopped_early else 'epoch budget used'}")
    names = [f"{m}@{k}" for k in KS for m in ("HR", "NDCG", "MRR")]
    print(f"  {'split':<11}" + "".join(f"{n:>9}" for n in names))
    for split in ("test", "testMasked"):
        print(f"  {split:<11}" + "".join(f"{res[split][n]:>9.4f}" for n in names))
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
