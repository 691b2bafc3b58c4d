"""Cross-check of the engine against PyTorch (float64): three SGD steps of the seed network from
the same initial weights on the same 128 Fashion-MNIST images (no augmentation, so batch order
does not matter), under the run's learning-rate schedule (warmup, then cosine), then every
weight and batch-norm statistic compared.
Usage: three_steps.py SEED.h5 TRAINED.h5[:TOL] ...; each TRAINED.h5 (trained from SEED.h5)
compared in turn, its last line "TRAINED.h5: worst W (tolerance TOL)"; exit 1 when any
difference exceeds its TOL (default 1e-5). Several files in one run load PyTorch and the
images once."""
import gzip, math, os, sys
import h5py, numpy as np, torch, torch.nn as nn, torch.nn.functional as F

torch.set_default_dtype(torch.float64)
seed_path = sys.argv[1]
D = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")

def idx(name):
    b = gzip.open(os.path.join(D, name)).read()
    nd = b[3]; dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)

f = h5py.File(seed_path, "r")
mean, std = float(f.attrs["norm_mean"][0]), float(f.attrs["norm_std"][0])
x = torch.tensor(idx("train-images-idx3-ubyte.gz")[:128].astype(np.float64) / 255).unsqueeze(1)
y = torch.tensor(idx("train-labels-idx1-ubyte.gz")[:128]).long()
x = (x - mean) / std

def cbr(i, o): return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
# the seed network's three blocks, at the widths the file has (nash-init --widths)
widths = [f["graph"][n]["weight"].shape[0] for n in sorted(f["graph"].keys()) if n.split("_")[1] == "conv"]
assert len(widths) == 3, widths
m = nn.Sequential(*cbr(1, widths[0]), nn.MaxPool2d(2), *cbr(widths[0], widths[1]), nn.MaxPool2d(2),
                  *cbr(widths[1], widths[2]), nn.Flatten(), nn.Linear(widths[2] * 49, 10))
mods = [l for l in m if isinstance(l, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
nodes = [n for n in sorted(f["graph"].keys()) if n.split("_")[1] in ("conv", "bn", "dense")]
assert len(mods) == len(nodes), nodes

def tensors(mod):
    if isinstance(mod, nn.BatchNorm2d):
        return [("gamma", mod.weight), ("beta", mod.bias), ("running_mean", mod.running_mean),
                ("running_var", mod.running_var)]
    return [("weight", mod.weight)] + ([("bias", mod.bias)] if isinstance(mod, nn.Linear) else [])

def check(trained_path, tol):
    """Three steps from the seed's weights, as TRAINED.h5's run took them, compared with it."""
    for mod, n in zip(mods, nodes):
        for name, t in tensors(mod):
            t.data = torch.tensor(f["graph"][n][name][()]).double()
    decay = [p for p in m.parameters() if p.dim() > 1]
    other = [p for p in m.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": other, "weight_decay": 0}],
                          lr=0.05, momentum=0.9, nesterov=True)
    t = h5py.File(trained_path, "r")
    # The run's warmup (nash-train --warmup; absent in older files: none), 1 step per epoch here:
    # lr_start (k+1)/W for the first W steps, then the cosine over the 3 - W steps left.
    runs = t["training"]["runs"]
    W = math.floor(float(runs["warmup"][-1]) * 1 + 0.5) if "warmup" in runs.dtype.names else 0
    def lr(k):
        if k < W:
            return 0.05 * (k + 1) / W
        return 0.05 * 0.5 * (1 + math.cos(math.pi * (k - W) / (3 - W)))
    for k in range(3):
        for g in opt.param_groups:
            g["lr"] = lr(k)
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(); loss.backward(); opt.step()

    worst = 0.0
    for mod, n in zip(mods, nodes):
        for name, tv in tensors(mod):
            a = t["graph"][n][name][()]; b = tv.detach().numpy()
            rel = np.abs(a - b).max() / (1e-3 + np.abs(b).max())
            worst = max(worst, rel if np.isfinite(rel) else np.inf)
            print(f"{n}/{name}: max |nash - torch| / (1e-3 + max |torch|) = {rel:.2e}")
    print(f"{trained_path}: worst {worst:.2e} (tolerance {tol:g})")
    return worst <= tol


ok = True
for arg in sys.argv[2:]:
    path, _, tol = arg.rpartition(":") if ":" in arg else (arg, "", "1e-5")
    ok = check(path, float(tol)) and ok
sys.exit(0 if ok else 1)
