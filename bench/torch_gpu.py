"""PyTorch eager timing next to nash on the GPU (bench/gpu.sh).

The seed network and the grown one (seed0, grown below; bench/mkgrown.c builds the same layers
for nash, its skips being nash's lambda-weighted adds at lambda 0.5) with nash's recipe: SGD Nesterov
0.9, weight decay 5e-4 on conv/dense weights, batch 128, cosine learning rate LR -> 0, random
crop (pad 2 at 28x28, 4 at 32x32) + flip, data resident on the GPU, FP32 (TF32 with NASH_TF32=1),
cudnn.benchmark on. 28x28x1 is Fashion-MNIST's 60000 training images, 32x32x3 is 50000 random
CIFAR-shaped images (as nash's bench data). The first epoch is warm-up; images/s is over the rest.

Usage: python torch_gpu.py EPOCHS      env FMNIST_DIR: the Fashion-MNIST IDX .gz files,
                                       BENCH_LR: the starting learning rate LR (default 0.05)
Prints "torch NET SHAPE IMG_PER_S" per configuration, and "torch gpu NAME" first."""
import gzip, math, os, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
dev = "cuda"
lr0 = float(os.environ.get("BENCH_LR", "0.05"))
tf32 = os.environ.get("NASH_TF32", "0") not in ("", "0")
torch.backends.cuda.matmul.allow_tf32 = tf32
torch.backends.cudnn.allow_tf32 = tf32
torch.backends.cudnn.benchmark = True
D = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name):
    with gzip.open(os.path.join(D, name)) as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def cbr(i, o): return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


class Res(nn.Module):
    def __init__(s, c): super().__init__(); s.b = nn.Sequential(*cbr(c, c))
    def forward(s, x): return x + s.b(x)


def seed0(cin, hw):
    return nn.Sequential(*cbr(cin, 32), nn.MaxPool2d(2), *cbr(32, 64), nn.MaxPool2d(2), *cbr(64, 128),
                         nn.Flatten(), nn.Linear(128 * (hw // 4) ** 2, 10))


def grown(cin, hw):
    return nn.Sequential(*cbr(cin, 64), Res(64), nn.MaxPool2d(2), *cbr(64, 128), Res(128), nn.MaxPool2d(2),
                         *cbr(128, 256), Res(256), nn.Flatten(), nn.Linear(256 * (hw // 4) ** 2, 10))


def augment(x, pad):
    B, C, H, W = x.shape
    p = F.pad(x, (pad,) * 4)
    i = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    j = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    r = (i[:, None] + torch.arange(H, device=x.device))[:, None, :, None]
    c = (j[:, None] + torch.arange(W, device=x.device))[:, None, None, :]
    out = p[torch.arange(B, device=x.device)[:, None, None, None], torch.arange(C, device=x.device)[None, :, None, None], r, c]
    flip = torch.rand(B, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def rate(make, x, y, bs=128):
    torch.manual_seed(0)
    m = make(x.shape[1], x.shape[2]).to(dev)
    decay = [p for p in m.parameters() if p.dim() > 1]
    other = [p for p in m.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": other, "weight_decay": 0}],
                          lr=lr0, momentum=0.9, nesterov=True)
    pad = 2 if x.shape[2] < 32 else 4
    n = x.shape[0]; steps = n // bs; total = steps * epochs; k = 0; times = []
    for ep in range(epochs):
        m.train(); torch.cuda.synchronize(); t0 = time.perf_counter()
        perm = torch.randperm(n, device=dev)
        for s in range(steps):
            b = perm[s * bs:(s + 1) * bs]
            xb = augment(x[b], pad); yb = y[b]
            for g in opt.param_groups:
                g["lr"] = lr0 * 0.5 * (1 + math.cos(math.pi * k / total))
            loss = F.cross_entropy(m(xb), yb)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); k += 1
        torch.cuda.synchronize(); times.append(time.perf_counter() - t0)
    timed = times[1:] if len(times) > 1 else times
    return steps * bs * len(timed) / sum(timed)


print("torch gpu", torch.cuda.get_device_name(), "torch", torch.__version__, "tf32" if tf32 else "fp32", flush=True)
xf = torch.tensor(idx("train-images-idx3-ubyte.gz"), device=dev).float().div(255).unsqueeze(1)
yf = torch.tensor(idx("train-labels-idx1-ubyte.gz"), device=dev).long()
xf = (xf - 0.2860) / 0.3530
g = torch.Generator(device=dev).manual_seed(1)
xc = (torch.randint(0, 256, (50000, 3, 32, 32), device=dev, generator=g).float().div(255) - 0.5) / 0.2887
yc = torch.randint(0, 10, (50000,), device=dev, generator=g)
for name, make in (("seed", seed0), ("grown", grown)):
    for shape, x, y in (("28x28x1", xf, yf), ("32x32x3", xc, yc)):
        print("torch", name, shape, round(rate(make, x, y)), flush=True)
