"""Train tiny spiking transformers with SpikingJelly surrogate gradients (extra ``evsim[train]``).

torch and spikingjelly are imported inside the functions, so ``import evsim.train`` works
without them; only :func:`train` needs them. The four architectures follow their papers'
blocks at toy size (tokens N = 16 patches of 2 x 2 pixels of an 8 x 8 digit, width D = 16,
2 heads, T = 4, one block), all with SpikingJelly's LIF (tau = 2, decay_input, hard reset to
0, ATan surrogate):

* ``spikformer``: Q, K, V = SN(BN(W r)), SSA = SN_0.5(0.125 Q K^T V), proj SN(BN(W a)),
  spiking MLP, residual by adding spikes (r + a).
* ``qkformer``: Q, K = SN(BN(W r)), QKTA = K AND SN_0.5(sum over a head's channels of Q),
  proj, spiking MLP, residual by adding spikes.
* ``sdt`` (Spike-driven Transformer): membrane shortcut (the residual stream is real and
  each branch starts with a LIF), SDSA = Q AND SN_0.5(sum over tokens of K AND V).
* ``spikingresformer``: membrane shortcut, DSSA with patch 1 (A = SN(c1 Y1^T X),
  O = SN(c2 Y2 A), Y = BN(W X)), then a linear projection; a plain (not grouped) MLP.

Two tasks (:data:`TASKS`): ``digits`` (scikit-learn's 8 x 8 digits, a learned position
embedding, a linear classifier of the token mean averaged over T) and ``sets`` (procedurally
generated sets of 16 points in [0, 1]^4; each point's label says whether its coordinate sum
exceeds the set's median: a permutation-equivariant target; no position embedding, a linear
classifier per token averaged over T). The exported weights fold each batch norm into its
linear layer (eval mode): see :mod:`circuits.trained`.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import ValidationError

__all__ = ["ARCHITECTURES", "TASKS", "OPERANDS", "STRUCTURE", "SIZES", "REFERENCE_T",
           "WIDTHS", "SEEDS", "WIDE_ARCHITECTURES", "Cell", "GRID", "digits_tokens",
           "set_tokens", "task_data", "train", "spikingjelly_forward", "weights_hash"]

ARCHITECTURES = ("spikformer", "qkformer", "sdt", "spikingresformer")
TASKS = ("digits", "sets")
CLASSES = dict(digits=10, sets=2)
SETS = 2000  # generated sets (75 % train, 25 % test)
#: the linear operand layers of each architecture's attention (SpikingResformer's DSSA maps
#: its input itself, with y1 and y2)
OPERANDS = dict(spikformer="qkv", qkformer="qk", sdt="qkv", spikingresformer="")
#: metadata that defines the model (covered by the file hash with every array)
STRUCTURE = ("arch", "task", "classes", "tokens", "width", "heads", "T", "c1", "c2", "patch")
#: shared toy sizes: tokens, width, heads, time steps, DSSA scales c1 and c2
SIZES = dict(tokens=16, width=16, heads=2, T=4, c1=0.25, c2=0.25)
#: the second training T of the shipped models (model.t4's reference: trained for long runs)
REFERENCE_T = 16
PATCH = 2  # pixels per patch side: 8 x 8 digits -> 16 tokens of 4 pixels
#: the model widths D of the training grid (heads stay 2, so d = D/2 per head)
WIDTHS = (16, 32, 64)
#: training seeds of every cell of the grid
SEEDS = (0, 1, 2)
#: the architectures trained at every width; the other two stay at width 16. These two are
#: the ones whose attention circuit grows as N D (QKTA, SDSA); Spikformer's SSA needs N^2 d D
#: triple units and SpikingResformer's DSSA (N D)^2 pair units, which at width 64 would be
#: 16-64x the width-16 circuit
WIDE_ARCHITECTURES = ("qkformer", "sdt")
#: reference images (SpikingJelly spikes stored with the weights) of the first-trained models
#: (width 16, seed 0), which model.t4 and the layer-by-layer tests read; every other model
#: stores the few its spike-for-spike import check needs
REFERENCE_IMAGES = dict(first=128, other=32)


class Cell(NamedTuple):
    """One model of the training grid."""

    arch: str
    task: str
    T: int
    width: int = 16
    seed: int = 0

    @property
    def reference_images(self) -> int:
        first = self.width == SIZES["width"] and self.seed == 0
        return REFERENCE_IMAGES["first" if first else "other"]


#: every model evsim ships: all four architectures at width 16 and the two of
#: :data:`WIDE_ARCHITECTURES` at every width, each on both tasks at T = 4 and REFERENCE_T,
#: with every seed of :data:`SEEDS`
GRID = tuple(Cell(arch, task, T, width, seed)
             for width in WIDTHS for seed in SEEDS for T in (4, REFERENCE_T) for task in TASKS
             for arch in (ARCHITECTURES if width == SIZES["width"] else WIDE_ARCHITECTURES))


def digits_tokens(seed: int = 0):
    """scikit-learn's digits as tokens: X (images, 16, 4) in [0, 1] (2 x 2 patches, row
    major), labels, and a stratified 75/25 train/test split fixed by ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images / 16.0
    n = len(images)
    tokens = images.reshape(n, 4, PATCH, 4, PATCH).transpose(0, 1, 3, 2, 4).reshape(n, 16, 4)
    train, test = train_test_split(np.arange(n), test_size=0.25, random_state=seed,
                                   stratify=digits.target)
    return tokens, digits.target, train, test


def set_tokens(seed: int = 0):
    """The set task: X (2000, 16, 4) uniform in [0, 1], labels (2000, 16) = 1 where a point's
    coordinate sum exceeds the median of its set's sums (so 8 of 16 per set), and a 75/25
    train/test split of the sets; all fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (SETS, 16, PATCH * PATCH))
    sums = X.sum(axis=2)
    labels = (sums > np.median(sums, axis=1, keepdims=True)).astype(int)
    order = rng.permutation(SETS)
    cut = SETS * 3 // 4
    return X, labels, order[:cut], order[cut:]


def task_data(task: str, seed: int = 0):
    """(X, labels, train, test) of ``task`` (see :data:`TASKS`)."""
    if task not in TASKS:
        raise ValidationError("task", f"parameter 'task' must be one of {TASKS}, got {task!r}")
    return digits_tokens(seed) if task == "digits" else set_tokens(seed)


def weights_hash(arrays: dict, meta: dict) -> str:
    """SHA-256 over every array of a weights file (weights and reference spikes, sorted by
    name, with dtype and shape) and the metadata that defines the model (:data:`STRUCTURE`)."""
    digest = hashlib.sha256(json.dumps({k: meta.get(k) for k in STRUCTURE},
                                       sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _modules():
    """The torch modules (defined here so that torch is imported only when training)."""
    import torch
    from torch import nn
    from spikingjelly.activation_based import neuron, surrogate

    def lif(v_th: float = 1.0):
        return neuron.LIFNode(tau=2.0, v_threshold=v_th, v_reset=0.0, decay_input=True,
                              detach_reset=True, step_mode="m",
                              surrogate_function=surrogate.ATan())

    class LinearBN(nn.Module):
        """Linear then batch norm over the channels of (T, B, N, C) tensors."""

        def __init__(self, fan_in: int, fan_out: int):
            super().__init__()
            self.fc, self.bn = nn.Linear(fan_in, fan_out), nn.BatchNorm1d(fan_out)

        def forward(self, x):
            y = self.fc(x)
            return self.bn(y.flatten(0, -2)).view(y.shape)

        def folded(self):
            """(W (out, in), b (out,)) of the eval-mode affine map, float64."""
            bn = self.bn
            scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).double()
            W = scale[:, None] * self.fc.weight.double()
            b = scale * (self.fc.bias.double() - bn.running_mean.double()) + bn.bias.double()
            return W.detach().numpy(), b.detach().numpy()

    class Model(nn.Module):
        def __init__(self, arch: str, tokens=16, width=16, heads=2, T=4, c1=0.25, c2=0.25,
                     task="digits"):
            super().__init__()
            self.per_token = task == "sets"
            self.arch, self.T, self.heads = arch, T, heads
            self.c1, self.c2 = c1, c2
            D = width
            self.layers = nn.ModuleDict(dict(embed=LinearBN(PATCH * PATCH, D),
                                             mlp1=LinearBN(D, 4 * D), mlp2=LinearBN(4 * D, D),
                                             proj=LinearBN(D, D)))
            operands = OPERANDS
            for name in operands[arch]:
                self.layers[name] = LinearBN(D, D)
            if arch == "spikingresformer":
                self.layers["y1"], self.layers["y2"] = LinearBN(D, D), LinearBN(D, D)
            self.membrane = arch in ("sdt", "spikingresformer")
            names = ["embed", *operands[arch], "attn", "proj", "hidden", "mlp_out"]
            if self.membrane:
                names = ["block_in", *operands[arch], "attn", "mlp_in", "hidden", "out"]
                if arch == "spikingresformer":
                    names.insert(1, "A")
            thresholds = dict(attn=0.5 if arch != "spikingresformer" else 1.0)
            self.lifs = nn.ModuleDict({n: lif(thresholds.get(n, 1.0)) for n in names})
            self.head = nn.Linear(D, CLASSES[task])
            # drawn for both tasks, so the later layers' initial weights do not depend on it
            position = 0.1 * torch.randn(tokens, D)  # added to the embedding
            if self.per_token:  # none: the model must stay permutation-equivariant
                self.register_buffer("position", torch.zeros(tokens, D))
            else:
                self.position = nn.Parameter(position)

        def _spike(self, name, x, record):
            s = self.lifs[name](x)
            if record is not None:
                record[name] = s
            return s

        def _heads(self, x):
            T, B, N, D = x.shape
            return x.view(T, B, N, self.heads, D // self.heads).transpose(2, 3)

        def _merge(self, x):
            T, B, H, N, d = x.shape
            return x.transpose(2, 3).reshape(T, B, N, H * d)

        def _attention(self, s, record):
            L, S = self.layers, lambda n, x: self._spike(n, x, record)
            if self.arch == "spikformer":
                q, k, v = (self._heads(S(n, L[n](s))) for n in "qkv")
                return S("attn", self._merge(q @ k.transpose(-1, -2) @ v * 0.125))
            if self.arch == "qkformer":
                q, k = S("q", L["q"](s)), S("k", L["k"](s))
                mask = S("attn", self._heads(q).sum(-1).transpose(2, 3))  # (T, B, N, H)
                d = q.shape[-1] // self.heads
                out = k * mask.repeat_interleave(d, dim=-1)
                if record is not None:
                    record["qkta_out"] = out
                return out
            if self.arch == "sdt":
                q, k, v = (S(n, L[n](s)) for n in "qkv")
                mask = S("attn", (k * v).sum(dim=2, keepdim=True))
                out = q * mask
                if record is not None:
                    record["sdsa_out"] = out
                return out
            y1, y2, x = (self._heads(t) for t in (L["y1"](s), L["y2"](s), s))
            A = S("A", self.c1 * (y1 @ x.transpose(-1, -2)))  # (T, B, H, a, n)
            return S("attn", self._merge(self.c2 * (A.transpose(-1, -2) @ y2)))

        def forward(self, patches, record=None):
            """patches (B, N, 4) -> logits (B, classes), or (B, N, classes) per token for the
            set task; ``record`` (dict) receives every LIF's spikes (T, B, N, C)."""
            L, S = self.layers, lambda n, x: self._spike(n, x, record)
            x = L["embed"](patches.unsqueeze(0).repeat(self.T, 1, 1, 1)) + self.position
            if self.membrane:
                x = x + L["proj"](self._attention(S("block_in", x), record))
                x = x + L["mlp2"](S("hidden", L["mlp1"](S("mlp_in", x))))
                features = S("out", x)
            else:
                r = S("embed", x)
                r = r + S("proj", L["proj"](self._attention(r, record)))
                features = r + S("mlp_out", L["mlp2"](S("hidden", L["mlp1"](r))))
                if record is not None:
                    record["stream"] = features
            if self.per_token:
                return self.head(features).mean(dim=0)  # (B, N, classes)
            return self.head(features.mean(dim=2)).mean(dim=0)

        def load_folded(self, arrays: dict) -> None:
            """Take exported (folded) weights: each batch norm becomes the identity."""
            with torch.no_grad():
                for name, layer in self.layers.items():
                    layer.bn = nn.Identity()
                    layer.fc.weight.copy_(torch.as_tensor(arrays[f"{name}.W"]))
                    layer.fc.bias.copy_(torch.as_tensor(arrays[f"{name}.b"]))
                self.position.copy_(torch.as_tensor(arrays["position"]))
                self.head.weight.copy_(torch.as_tensor(arrays["head.W"]))
                self.head.bias.copy_(torch.as_tensor(arrays["head.b"]))

        def export(self) -> dict:
            """Folded float64 weights: {layer.W, layer.b, position, head.W, head.b}."""
            arrays = {}
            for name, layer in self.layers.items():
                arrays[f"{name}.W"], arrays[f"{name}.b"] = layer.folded()
            arrays["position"] = self.position.double().detach().numpy()
            arrays["head.W"] = self.head.weight.double().detach().numpy()
            arrays["head.b"] = self.head.bias.double().detach().numpy()
            return arrays

    return torch, Model


def _require_torch():
    try:
        import spikingjelly  # noqa: F401
        import torch  # noqa: F401
    except ImportError as error:
        raise ValidationError("extra", "training needs the extra: pip install -e '.[train]' "
                                      f"(torch==2.13.0, spikingjelly==2.0.0); {error}") from None


def spikingjelly_forward(meta: dict, weights: dict, tokens: np.ndarray):
    """SpikingJelly's float64 forward pass of exported weights on image tokens (images, 16, 4):
    (spikes {layer: (T, images, ...) bool}, logits (images, classes) or (images, 16, classes)
    for the set task, seconds)."""
    _require_torch()
    torch, Model = _modules()
    from spikingjelly.activation_based import functional

    model = Model(meta["arch"], **{k: meta[k] for k in SIZES},
                  task=meta.get("task", "digits")).double().eval()
    model.load_folded(weights)
    record = {}
    with torch.no_grad():
        functional.reset_net(model)
        start = time.perf_counter()
        logits = model(torch.as_tensor(tokens, dtype=torch.float64), record)
        seconds = time.perf_counter() - start
    spikes = {k: v.numpy().astype(bool) for k, v in record.items() if k != "stream"}
    return spikes, logits.numpy(), seconds


def train(arch: str, *, task: str = "digits", epochs: int = 150, seed: int = 0, T: int = 4,
          width: int = 16, reference_images: int = 128, out: Path | None = None,
          progress=None) -> dict:
    """Train ``arch`` on ``task`` with ``T`` time steps (the shipped models: 4, and
    :data:`REFERENCE_T` for model.t4) at model width ``width`` (2 heads); write ``out`` (.npz:
    folded weights, metadata with the SpikingJelly version, seed, accuracy and a hash, and the
    float64 reference spikes of the first ``reference_images`` test images). Returns the
    metadata. One :class:`Cell` of the grid: ``train(**cell._asdict(),
    reference_images=cell.reference_images)``."""
    if arch not in ARCHITECTURES:
        raise ValidationError("arch", f"parameter 'arch' must be one of {ARCHITECTURES}, got "
                                      f"{arch!r}")
    if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= 64:
        raise ValidationError("T", f"parameter 'T' must be an integer in [1, 64], got {T!r}")
    heads = SIZES["heads"]
    if isinstance(width, bool) or not isinstance(width, int) or not 2 <= width <= 256 \
            or width % heads:
        raise ValidationError("width", f"parameter 'width' must be an integer in [2, 256] "
                                       f"divisible by the {heads} heads, got {width!r}")
    X, y, train_idx, test_idx = task_data(task)
    _require_torch()
    torch, Model = _modules()
    from importlib.metadata import version

    from spikingjelly.activation_based import functional

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    sizes = SIZES | {"T": T, "width": width}
    model = Model(arch, **sizes, task=task)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.tensor(train_idx)[torch.randperm(len(train_idx), generator=generator)]
        for batch in order.split(64):
            functional.reset_net(model)
            logits = model(Xt[batch])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     yt[batch].reshape(-1))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
        if progress is not None:
            progress(epoch + 1, epochs, loss.item())
    seconds = time.perf_counter() - start
    model = model.double().eval()
    with torch.no_grad():
        functional.reset_net(model)
        record = {}
        test = torch.tensor(X[test_idx], dtype=torch.float64)
        logits = model(test, record)
    predicted = logits.argmax(-1).numpy()
    accuracy = float((predicted == y[test_idx]).mean())
    k = reference_images
    arrays = model.export() | {f"ref.{name}": s[:, :k].numpy().astype(bool)
                               for name, s in record.items() if name != "stream"}
    arrays |= {"ref.logits": logits[:k].numpy(), "ref.test_index": test_idx[:k],
               "ref.predicted": predicted}
    meta = dict(arch=arch, task=task, classes=CLASSES[task], **sizes, patch=PATCH, seed=seed,
                epochs=epochs, test_accuracy=accuracy, test_images=len(test_idx),
                train_seconds=round(seconds, 1), torch=torch.__version__,
                spikingjelly=version("spikingjelly"), reference_images=reference_images)
    meta["hash"] = weights_hash(arrays, meta)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, meta=json.dumps(meta), **arrays)
    return meta
