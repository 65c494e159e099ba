#!/usr/bin/python3
"""Time one SASRec training step in PyTorch (developer-only reference benchmark).

Usage:
    /usr/bin/python3 bench/pytorch/sasrec_step.py --batch-file <path.json> \
        --threads N --warmup W --steps S [--json]

The batch file is written by our TypeScript bench so both engines train on the
same batch with the same hyper-parameters; see bench/pytorch/README.md.

The model mirrors RecBole's SASRec op for op (nn.Linear / nn.LayerNorm written
out by hand, no nn.TransformerEncoder) so the op list matches our engine.
"""

import json
import math
import os
import resource
import sys
import time

# Debian's torch runs its own ops on libgomp threads but GEMMs on OpenBLAS's
# separate pthread pool. By default idle gomp threads spin-wait after every
# parallel region and steal the cores OpenBLAS needs (measured: 2 threads
# slower than 1). Passive waiting removes that; must be set before torch
# loads libgomp. An explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from blas_threads import parse_step_args, set_threads  # noqa: E402 (after torch loads OpenBLAS)
import torch.nn as nn
import torch.nn.functional as F

# RecBole's default layer_norm_eps.
LN_EPS = 1e-12
# RecBole adds -10000.0 (not -inf) to masked attention scores. With right
# padding and a causal mask every query row still sees key 0, so -inf would be
# safe too; we keep RecBole's constant.
MASK_NEG = -10000.0


class SelfAttentionBlock(nn.Module):
    """Post-LN multi-head self-attention sub-layer (RecBole MultiHeadAttention)."""

    def __init__(self, d, heads, dropout):
        super().__init__()
        assert d % heads == 0, "d must be divisible by heads"
        self.heads = heads
        self.head_dim = d // heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.attn_dropout = nn.Dropout(dropout)
        self.out_dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(d, eps=LN_EPS)

    def split(self, x):
        # [B, L, d] -> [B, H, L, d/H]
        b, l, _ = x.shape
        return x.view(b, l, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, mask_add):
        b, l, d = x.shape
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores + mask_add  # causal + key-padding, broadcast over heads
        probs = self.attn_dropout(torch.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, l, d)
        out = self.out_dropout(self.o(ctx))
        return self.ln(out + x)


class FeedForwardBlock(nn.Module):
    """Post-LN FFN sub-layer (RecBole FeedForward with exact erf GELU)."""

    def __init__(self, d, ffn, dropout):
        super().__init__()
        self.fc1 = nn.Linear(d, ffn)
        self.fc2 = nn.Linear(ffn, d)
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(d, eps=LN_EPS)

    def forward(self, x):
        h = F.gelu(self.fc1(x))  # default approximate='none' = exact erf
        h = self.dropout(self.fc2(h))
        return self.ln(h + x)


class SASRec(nn.Module):
    def __init__(self, items, max_len, d, layers, heads, ffn, dropout):
        super().__init__()
        # items + 1 rows: row 0 is padding (RecBole n_items includes it).
        self.item_emb = nn.Embedding(items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, d)
        self.in_ln = nn.LayerNorm(d, eps=LN_EPS)
        self.in_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(SelfAttentionBlock(d, heads, dropout))
            self.blocks.append(FeedForwardBlock(d, ffn, dropout))
        self.apply(self._init)

    @staticmethod
    def _init(m):
        # RecBole: N(0, 0.02) weights (embeddings included, padding row too),
        # zero biases, LayerNorm gamma 1 / beta 0.
        if isinstance(m, (nn.Linear, nn.Embedding)):
            m.weight.data.normal_(mean=0.0, std=0.02)
        elif isinstance(m, nn.LayerNorm):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.data.zero_()

    def forward(self, seq):
        b, l = seq.shape
        pos = torch.arange(l, device=seq.device).unsqueeze(0)  # right padding: pos 0 = oldest
        x = self.in_dropout(self.in_ln(self.item_emb(seq) + self.pos_emb(pos)))

        # Additive mask [B, 1, L, L]: key j visible to query i iff j <= i and
        # seq[b, j] != 0 (RecBole get_attention_mask, unidirectional).
        keep = (seq != 0).unsqueeze(1).unsqueeze(2)  # [B, 1, 1, L]
        causal = torch.tril(torch.ones(l, l, dtype=torch.bool, device=seq.device))
        keep = keep & causal  # [B, 1, L, L]
        mask_add = torch.zeros(keep.shape, dtype=x.dtype, device=seq.device)
        mask_add.masked_fill_(~keep, MASK_NEG)

        for blk in self.blocks:
            x = blk(x, mask_add) if isinstance(blk, SelfAttentionBlock) else blk(x)
        return x  # [B, L, d]


def load_batch(path):
    with open(path) as f:
        cfg = json.load(f)
    seqs, tgts = cfg["sequences"], cfg["targets"]
    items, max_len = cfg["items"], cfg["maxLen"]
    if len(seqs) != len(tgts) or not seqs:
        sys.exit("batch file: sequences/targets must be non-empty and equally long")
    # Pad on the RIGHT to the full maxLen, as RecBole does; with "trim" (a length-bucketed
    # batch) only to the batch's longest sequence, which changes no output (right padding,
    # causal mask) and is the fastest a padded implementation can be.
    pad_len = max(len(s) for s in seqs) if cfg.get("trim") else max_len
    seq_t = torch.zeros(len(seqs), pad_len, dtype=torch.long)
    tgt_t = torch.zeros(len(seqs), pad_len, dtype=torch.long)
    for i, (s, t) in enumerate(zip(seqs, tgts)):
        if len(s) != len(t) or not 1 <= len(s) <= max_len:
            sys.exit(f"batch file: row {i}: bad lengths {len(s)}/{len(t)} (maxLen {max_len})")
        if min(s + t) < 1 or max(s + t) > items:
            sys.exit(f"batch file: row {i}: item id outside 1..{items}")
        seq_t[i, : len(s)] = torch.tensor(s)
        tgt_t[i, : len(t)] = torch.tensor(t)
    return cfg, seq_t, tgt_t


def percentile(sorted_vals, p):
    # Linear interpolation between closest ranks (same as numpy's default).
    if len(sorted_vals) == 1:
        return sorted_vals[0]
    pos = (len(sorted_vals) - 1) * p / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def step_result(torch_mod, times_ms, losses, rows, blas_threads, steps):
    """The fields every step benchmark reports: timing percentiles, peak RSS, threads, and the
    first (warm-up) and last (timed) losses."""
    # ru_maxrss is in KiB on Linux; peak over the whole process lifetime.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    st = sorted(times_ms)
    return {
        "median_ms": round(percentile(st, 50), 3),
        "p10_ms": round(percentile(st, 10), 3),
        "p90_ms": round(percentile(st, 90), 3),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "rows": rows,
        "torch_version": torch_mod.__version__,
        "threads": torch_mod.get_num_threads(),
        "blas_threads": blas_threads,
        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
        "steps": steps,
        "loss_first": round(losses[0], 6),
        "loss_last": round(losses[-1], 6),
    }


def main():
    args = parse_step_args(__doc__)

    blas_threads = set_threads(torch, args.threads)

    cfg, seq, tgt = load_batch(args.batch_file)
    torch.manual_seed(cfg.get("seed", 1))

    model = SASRec(cfg["items"], cfg["maxLen"], cfg["d"], cfg["layers"], cfg["heads"], cfg["ffn"], cfg["dropout"])
    model.train()  # dropout active, as in training
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])

    # Loss positions are fixed for the batch: boolean mask of non-padding slots.
    valid = seq != 0
    targets = tgt[valid]  # [R]
    rows = int(targets.numel())

    def step():
        # set_to_none=True is the PyTorch >= 2.0 default (skips a memset).
        opt.zero_grad(set_to_none=True)
        h = model(seq)[valid]  # [R, d], non-padding positions only
        # Full softmax over all items + 1 columns, padding column 0 included,
        # exactly like RecBole's CE loss (logits = h @ item_emb.weight^T).
        logits = h @ model.item_emb.weight.t()  # [R, items + 1]
        loss = F.cross_entropy(logits, targets)  # mean over the R rows
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()

    times_ms, losses = [], []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        losses.append(step())
        times_ms.append((time.perf_counter() - t0) * 1000.0)

    res = step_result(torch, times_ms, losses, rows, blas_threads, args.steps)

    print(f"PyTorch SASRec step  torch {res['torch_version']}  threads {res['threads']}  BLAS threads {blas_threads}  "
          f"OMP_WAIT_POLICY {res['omp_wait_policy']}")
    print(f"  batch {seq.shape[0]} x maxLen {seq.shape[1]}, rows R {rows}, items {cfg['items']}, "
          f"d {cfg['d']}, layers {cfg['layers']}, heads {cfg['heads']}, ffn {cfg['ffn']}")
    print(f"  warmup {args.warmup}, timed steps {args.steps}")
    print(f"  {'median ms':>10} {'p10 ms':>10} {'p90 ms':>10} {'peak RSS MB':>12} {'loss first':>11} {'loss last':>10}")
    print(f"  {res['median_ms']:>10.2f} {res['p10_ms']:>10.2f} {res['p90_ms']:>10.2f} "
          f"{res['peak_rss_mb']:>12.1f} {res['loss_first']:>11.4f} {res['loss_last']:>10.4f}")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
