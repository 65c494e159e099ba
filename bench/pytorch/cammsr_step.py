#!/usr/bin/python3
"""Time one CAMMSR training step in PyTorch (developer-only reference benchmark).

Usage:
    /usr/bin/python3 bench/pytorch/cammsr_step.py --batch-file <path.json> \
        --threads N --warmup W --steps S [--json]

The batch file is written by our TypeScript bench (`npm run bench:step -- --model cammsr`)
so both engines train on the same sequences, item features, category labels and
hyper-parameters; see bench/pytorch/README.md.

The model mirrors src/models/cammsr.ts op for op (ID embedding, per-modality
projections of frozen features with a learned "missing" embedding, CAMoE with
category-guided modality weights, DyT + one post-LN transformer per modality,
fused full-softmax L_SR, L_CP, MSCL), on right-padded [B, L] batches as
RecBole/HM4SR would run it. Our engine packs the sequences instead and never
computes padding; the math at the valid positions is the same.
"""

import json
import os
import sys
import time

# Same reason as in sasrec_step.py: idle libgomp threads must not spin-wait
# against OpenBLAS's pool. Must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from blas_threads import parse_step_args, set_threads  # noqa: E402 (after torch loads OpenBLAS)

# The transformer layers are exactly RecBole's SASRec layers: reuse them.
from sasrec_step import (  # noqa: E402
    LN_EPS,
    MASK_NEG,
    FeedForwardBlock,
    SelfAttentionBlock,
    load_batch,
    step_result,
)

# src/models/model.ts TIME_BUCKETS (log-bucketed time gaps), used only with "gaps".
TIME_BUCKETS = 32
# Same-target in-batch negatives of MSCL get this added (our engine: -1e9).
SAME_TARGET_NEG = -1e9


class DyT(nn.Module):
    """Dynamic Tanh: gamma * tanh(alpha * x) + beta, alpha a learned scalar."""

    def __init__(self, d, alpha):
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1,), float(alpha)))
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return self.weight * torch.tanh(self.alpha * x) + self.bias


class ModalityTable(nn.Module):
    """e~_m for every item: W_m x_m + b_m (+ learned "missing" row for absent items)."""

    def __init__(self, feats, absent, d, std):
        super().__init__()
        self.register_buffer("x", feats)  # [N + 1, f], frozen; absent rows are zero
        self.register_buffer("absent", absent)  # [N + 1, 1] float, or None when none is absent
        self.proj = nn.Linear(feats.shape[1], d)
        self.missing = nn.Parameter(torch.randn(1, d) * std)

    def forward(self):
        t = self.proj(self.x)  # [N + 1, d]
        # Our engine: matmul([N+1, 1], [1, d]); a broadcast product is the same outer product.
        return t + self.absent * self.missing if self.absent is not None else t


class InterestEncoder(nn.Module):
    """Z_m = Transformer_m(Dropout(DyT_m(s))) with RecBole post-LN blocks."""

    def __init__(self, d, layers, heads, ffn, hidden_dropout, attn_dropout, alpha):
        super().__init__()
        self.norm = DyT(d, alpha)
        self.dropout = nn.Dropout(hidden_dropout)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            blk = SelfAttentionBlock(d, heads, hidden_dropout)
            blk.attn_dropout = nn.Dropout(attn_dropout)
            self.blocks.append(blk)
            self.blocks.append(FeedForwardBlock(d, ffn, hidden_dropout))

    def forward(self, s, mask_add):
        x = self.dropout(self.norm(s))
        for blk in self.blocks:
            x = blk(x, mask_add) if isinstance(blk, SelfAttentionBlock) else blk(x)
        return x


class Camoe(nn.Module):
    """Category-guided attentive mixture of experts (synergy on, 'category' weighting)."""

    def __init__(self, n_mod, d, experts, categories, gate_t, weight_t, scale, view_norm, detach_w):
        super().__init__()
        self.n_mod, self.d = n_mod, d
        self.view_norm, self.detach_w = view_norm, detach_w
        self.gate_t, self.weight_t, self.scale = gate_t, weight_t, scale
        # K linear experts over the concatenation [e_id; e_t; e_v]: |M|d -> |M|d.
        self.experts = nn.ModuleList(nn.Linear(n_mod * d, n_mod * d) for _ in range(experts))
        # One gate per modality reading only e_m, no bias.
        self.gates = nn.ModuleList(nn.Linear(d, experts, bias=False) for _ in range(n_mod))
        # Category views U_m (d -> C), shared scorer R (C -> d) + tanh + query q (d).
        self.views = nn.ModuleList(nn.Linear(d, categories) for _ in range(n_mod))
        # viewNorm: each view reads LayerNorm(e_m).
        self.view_norms = nn.ModuleList(nn.LayerNorm(d, eps=LN_EPS) for _ in range(n_mod)) if view_norm else None
        self.scorer = nn.Linear(categories, d)
        self.query = nn.Parameter(torch.zeros(d, 1))

    def forward(self, e):
        M, d = self.n_mod, self.d
        x = torch.cat(e, dim=-1) if M > 1 else e[0]
        blocks = []
        for expert in self.experts:
            y = expert(x)
            blocks.append([y[..., m * d:(m + 1) * d] for m in range(M)] if M > 1 else [y])
        gates = [torch.softmax(g(em) / self.gate_t, dim=-1) for g, em in zip(self.gates, e)]
        mixed = [sum(bk[m] * gates[m][..., k:k + 1] for k, bk in enumerate(blocks)) for m in range(M)]

        if self.view_norms is not None:
            views = [u(ln(em)) for u, ln, em in zip(self.views, self.view_norms, e)]  # c_m, [..., C]
        else:
            views = [u(em) for u, em in zip(self.views, e)]
        scores = [torch.tanh(self.scorer(c)) @ self.query for c in views]  # a_m, [..., 1]
        w = torch.softmax((torch.cat(scores, dim=-1) if M > 1 else scores[0]) / self.weight_t, dim=-1)
        cat_logits = sum(c * w[..., m:m + 1] for m, c in enumerate(views))  # fused c^
        wr = w.detach() if self.detach_w else w  # detachWeights: only the category losses train w
        out = [em + self.scale * (mixed[m] * wr[..., m:m + 1]) for m, em in enumerate(e)]
        return out, cat_logits, views


class Cammsr(nn.Module):
    def __init__(self, cfg, items, max_len, modalities, tables, categories):
        super().__init__()
        d, std = cfg["dim"], cfg["initStd"]
        self.modalities = modalities
        self.item_emb = nn.Embedding(items + 1, d, padding_idx=0) if "id" in modalities else None
        self.pos_emb = nn.Embedding(max_len, d)
        self.content = nn.ModuleDict(
            {m: ModalityTable(feats, absent, d, std) for m, (feats, absent) in tables.items()}
        )
        self.time_emb = nn.Embedding(TIME_BUCKETS, d) if cfg.get("time") else None
        self.camoe = Camoe(len(modalities), d, cfg["experts"], categories, cfg["gateTemperature"],
                           cfg["weightTemperature"], cfg["weightScale"], cfg["viewNorm"], cfg["detachWeights"])
        self.interest = nn.ModuleList(
            InterestEncoder(d, cfg["layers"], cfg["heads"], cfg["ffnDim"], cfg["hiddenDropout"],
                            cfg["attnDropout"], cfg["dytAlpha"])
            for _ in modalities
        )
        self._init(std)

    def _init(self, std):
        # As our engine (RecBole style): N(0, std) for every Linear/Embedding weight, the
        # category query and the missing rows; zero biases; LayerNorm 1/0; DyT alpha 0.5,
        # gamma 1, beta 0; the ID padding row starts at zero.
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                mod.weight.data.normal_(0.0, std)
                if isinstance(mod, nn.Linear) and mod.bias is not None:
                    mod.bias.data.zero_()
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.data.fill_(1.0)
                mod.bias.data.zero_()
        for t in self.content.values():
            t.missing.data.normal_(0.0, std)
        self.camoe.query.data.normal_(0.0, std)
        if self.item_emb is not None:
            self.item_emb.weight.data[0].zero_()

    def tables(self):
        """e~_m for all items, [N + 1, d] per modality (ID: the embedding table itself)."""
        return [self.item_emb.weight if m == "id" else self.content[m]() for m in self.modalities]

    def represent(self, seq, tables, gaps):
        b, l = seq.shape
        pos = self.pos_emb(torch.arange(l, device=seq.device).unsqueeze(0))  # right padding: pos 0 = oldest
        time_e = self.time_emb(gaps) if self.time_emb is not None and gaps is not None else None
        out = []
        for m, t in zip(self.modalities, tables):
            view = self.item_emb(seq) if m == "id" else t[seq]  # content rows: gather from the table
            out.append(view + pos + time_e if time_e is not None else view + pos)
        return out


def attention_mask(seq):
    """Additive [B, 1, L, L]: causal + key padding, as in sasrec_step.py (RecBole)."""
    l = seq.shape[1]
    keep = (seq != 0).unsqueeze(1).unsqueeze(2) & torch.tril(torch.ones(l, l, dtype=torch.bool))
    mask_add = torch.zeros(keep.shape)
    mask_add.masked_fill_(~keep, MASK_NEG)
    return mask_add


def load_cammsr(path, cfg):
    """Feature tables, presence masks and the multi-hot category matrix from the batch file."""
    base = os.path.dirname(os.path.abspath(path))
    n = cfg["items"]
    tables = {}
    for m in cfg["modalities"]:
        if m == "id":
            continue
        spec = cfg["features"][m]
        x = np.fromfile(os.path.join(base, spec["file"]), dtype="<f4")
        if x.size != (n + 1) * spec["dim"]:
            sys.exit(f"batch file: {spec['file']} has {x.size} floats, want {(n + 1) * spec['dim']}")
        feats = torch.from_numpy(x.reshape(n + 1, spec["dim"]).copy())
        absent = torch.zeros(n + 1, 1)
        for i in spec["missing"]:
            absent[i, 0] = 1.0
        tables[m] = (feats, absent if spec["missing"] else None)
    cats = cfg["categories"]
    C = cats["count"]
    offsets, labels = cats["offsets"], cats["labels"]
    y = torch.zeros(n + 1, C)
    for i in range(1, n + 1):
        for q in range(offsets[i], offsets[i + 1]):
            y[i, labels[q]] = 1.0
    return tables, y, C


def build(raw, batch_file, seq, tgt):
    """The model and a closure computing (total, (L_SR, L_CP, L_MSCL)) on the padded batch.
    Seed torch before calling: the model's initialisation draws from torch's RNG."""
    if raw.get("model") != "cammsr":
        sys.exit("batch file: not a CAMMSR batch file (write it with `bench:step -- --model cammsr`)")
    cfg = raw["config"]
    modalities = raw["modalities"]
    # This script implements the spec's default variant only (the one the bench runs).
    want = {"weighting": "category", "categoryHead": "attentive", "synergy": True, "camoe": True,
            "msclPairs": "default", "inputNorm": "dyt", "encoderNorm": "layernorm"}
    other = {k: cfg.get(k) for k, v in want.items() if cfg.get(k) != v}
    if other:
        sys.exit(f"batch file: variant {other} is not mirrored here (need {want})")
    if "id" not in modalities or len(modalities) < 2:
        sys.exit("this benchmark needs the ID modality and at least one content modality")
    tables, y_items, C = load_cammsr(batch_file, raw)
    gaps = None
    if cfg.get("time"):
        if "gaps" not in raw:
            sys.exit("batch file: config.time needs per-position 'gaps'")
        gaps = torch.zeros_like(seq)
        for i, g in enumerate(raw["gaps"]):
            gaps[i, : len(g)] = torch.tensor(g)

    model = Cammsr(cfg, raw["items"], raw["maxLen"], modalities, tables, C)

    B = seq.shape[0]
    valid = seq != 0  # [B, L]
    targets = tgt[valid]  # [R]
    mask_add = attention_mask(seq)
    last = valid.sum(dim=1) - 1  # index of each sequence's last valid position
    ar = torch.arange(B)
    diag = torch.arange(B)
    # MSCL pair: text<->image when both exist, else id<->(first content modality).
    both = "text" in modalities and "image" in modalities
    pa, pb = (modalities.index("text"), modalities.index("image")) if both else (0, 1)
    beta, lam, tau, ratio = cfg["beta"], cfg["lambda"], cfg["msclTau"], cfg["msclRatio"]

    def loss_fn():
        tabs = model.tables()
        e = model.represent(seq, tabs, gaps)
        fused, cat_logits, views = model.camoe(e)
        z = [enc(s, mask_add) for enc, s in zip(model.interest, fused)]

        # L_SR: full softmax over all items + 1 (padding column included) at every valid
        # position; sum_m <z_m, e~_m> is one product of the concatenations.
        h = torch.cat(z, dim=-1)[valid]  # [R, |M|d]
        w = torch.cat(tabs, dim=-1)  # [N + 1, |M|d]
        lsr = F.cross_entropy(h @ w.t(), targets)

        # L_CP: BCE with logits of the fused category prediction against the multi-hot labels
        # of the input items, mean over valid rows x C (gathered per step, as our engine does).
        y_valid = y_items[seq[valid]]
        lcp = F.binary_cross_entropy_with_logits(cat_logits[valid], y_valid)
        if cfg["viewLoss"] > 0:  # each view's own category loss, averaged over modalities
            lviews = sum(F.binary_cross_entropy_with_logits(c[valid], y_valid) for c in views) / len(views)
            lcp = lcp + cfg["viewLoss"] * lviews

        # L_MSCL: swap ~30% of the valid positions between the two CAMoE outputs, re-encode.
        swap = ((torch.rand(seq.shape) < ratio) & valid).unsqueeze(-1)
        sa = torch.where(swap, fused[pb], fused[pa])
        sb = torch.where(swap, fused[pa], fused[pb])
        za = F.normalize(model.interest[pa](sa, mask_add)[ar, last], dim=-1, eps=1e-12)
        zb = F.normalize(model.interest[pb](sb, mask_add)[ar, last], dim=-1, eps=1e-12)
        # In-batch negatives whose target equals the anchor's target are masked out.
        last_tgt = tgt[ar, last]
        same = (last_tgt.unsqueeze(0) == last_tgt.unsqueeze(1)) & ~torch.eye(B, dtype=torch.bool)
        neg_mask = torch.zeros(B, B).masked_fill_(same, SAME_TARGET_NEG)
        ab = (za @ zb.t()) / tau + neg_mask
        ba = (zb @ za.t()) / tau + neg_mask
        lmscl = 0.5 * (F.cross_entropy(ab, diag) + F.cross_entropy(ba, diag))

        total = lsr + beta * lcp + lam * lmscl
        return total, (lsr, lcp, lmscl)

    info = {"config": cfg, "modalities": modalities, "rows": int(targets.numel()), "categories": C}
    return model, loss_fn, info


def main():
    args = parse_step_args(__doc__)

    blas_threads = set_threads(torch, args.threads)

    raw, seq, tgt = load_batch(args.batch_file)
    torch.manual_seed(raw.get("seed", 1))
    model, loss_fn, info = build(raw, args.batch_file, seq, tgt)
    model.train()  # dropout active, as in training
    opt = torch.optim.Adam(model.parameters(), lr=raw["lr"])
    cfg, modalities, rows, C = info["config"], info["modalities"], info["rows"], info["categories"]
    B = seq.shape[0]

    def step():
        opt.zero_grad(set_to_none=True)
        total, terms = loss_fn()
        total.backward()
        opt.step()
        return total.item(), [t.item() for t in terms]

    losses = []
    first_terms = None
    for _ in range(args.warmup):
        loss, terms = step()
        losses.append(loss)
        first_terms = first_terms or terms

    times_ms = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss, terms = step()
        times_ms.append((time.perf_counter() - t0) * 1000.0)
        losses.append(loss)
        first_terms = first_terms or terms

    # loss_first = the very first (warm-up) step, loss_last = the last timed step.
    res = step_result(torch, times_ms, losses, rows, blas_threads, args.steps)
    res["modalities"] = modalities
    res["terms_first"] = {k: round(v, 6) for k, v in zip(("sr", "cp", "mscl"), first_terms)}
    res["padded_positions"] = int(seq.numel())

    print(f"PyTorch CAMMSR step  torch {res['torch_version']}  threads {res['threads']}  BLAS threads {blas_threads}  "
          f"OMP_WAIT_POLICY {res['omp_wait_policy']}")
    print(f"  modalities {'+'.join(modalities)}, batch {B} x maxLen {seq.shape[1]} (padded), rows R {rows}, "
          f"items {raw['items']}, categories {C}, d {cfg['dim']}, K {cfg['experts']}")
    print(f"  warmup {args.warmup}, timed steps {args.steps}; first-step terms sr {first_terms[0]:.4f} "
          f"cp {first_terms[1]:.4f} mscl {first_terms[2]:.4f}")
    print(f"  {'median ms':>10} {'p10 ms':>10} {'p90 ms':>10} {'peak RSS MB':>12} {'loss first':>11} {'loss last':>10}")
    print(f"  {res['median_ms']:>10.2f} {res['p10_ms']:>10.2f} {res['p90_ms']:>10.2f} "
          f"{res['peak_rss_mb']:>12.1f} {res['loss_first']:>11.4f} {res['loss_last']:>10.4f}")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
