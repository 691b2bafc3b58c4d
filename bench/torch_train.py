"""PyTorch reference for bench/cpu.sh: the same network and recipe as nash-train on the CPU
(seed network conv3x3-BN-ReLU 32/64/128 with 2x2 max-pools, flatten, dense; SGD Nesterov 0.9,
weight decay 5e-4 on conv/dense weights as nash does, batch 128, cosine learning rate,
random crop (pad 2) + flip), trained on real Fashion-MNIST images. Prints img/s of the
training steps (data preparation included, evaluation excluded).
Usage: python3 torch_train.py THREADS STEPS [grown]"""
import gzip, math, os, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

threads, steps = int(sys.argv[1]), int(sys.argv[2])
net_name = sys.argv[3] if len(sys.argv) > 3 else "seed"
torch.set_num_threads(threads)
D = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
def idx(name):
    with gzip.open(os.path.join(D, name)) as f:
        b = f.read()
    nd = b[3]; dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)
x = torch.tensor(idx("train-images-idx3-ubyte.gz")[:55000]).float().div(255).unsqueeze(1)
y = torch.tensor(idx("train-labels-idx1-ubyte.gz")[:55000]).long()
x = (x - x.mean()) / x.std()

def cbr(i, o): return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
class Res(nn.Module):
    def __init__(s, c): super().__init__(); s.b = nn.Sequential(*cbr(c, c))
    def forward(s, v): return v + s.b(v)
def seed():
    return nn.Sequential(*cbr(1, 32), nn.MaxPool2d(2), *cbr(32, 64), nn.MaxPool2d(2), *cbr(64, 128),
                         nn.Flatten(), nn.Linear(128 * 7 * 7, 10))
def grown():
    return nn.Sequential(*cbr(1, 64), Res(64), nn.MaxPool2d(2), *cbr(64, 128), Res(128), nn.MaxPool2d(2),
                         *cbr(128, 256), Res(256), nn.Flatten(), nn.Linear(256 * 7 * 7, 10))

def augment(b, pad=2):
    B, C, H, W = b.shape
    p = F.pad(b, (pad,) * 4)
    i = torch.randint(0, 2 * pad + 1, (B,)); j = torch.randint(0, 2 * pad + 1, (B,))
    r = (i[:, None] + torch.arange(H))[:, None, :, None]
    c = (j[:, None] + torch.arange(W))[:, None, None, :]
    out = p[torch.arange(B)[:, None, None, None], torch.arange(C)[None, :, None, None], r, c]
    flip = torch.rand(B) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)

torch.manual_seed(0)
m = seed() if net_name == "seed" else grown()
decay = [p for n, p in m.named_parameters() if p.dim() > 1]
other = [p for n, p in m.named_parameters() if p.dim() <= 1]
opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": other, "weight_decay": 0}],
                      lr=0.01, momentum=0.9, nesterov=True)
bs, warm = 128, 3
perm = torch.randperm(x.shape[0])
m.train()
for s in range(warm + steps):
    if s == warm:
        t0 = time.perf_counter()
    b = perm[(s * bs) % 54912:(s * bs) % 54912 + bs]
    for g in opt.param_groups:
        g["lr"] = 0.01 * 0.5 * (1 + math.cos(math.pi * s / (warm + steps)))
    loss = F.cross_entropy(m(augment(x[b])), y[b])
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
dt = time.perf_counter() - t0
print(f"torch {torch.__version__} {net_name} threads={threads}: {steps * bs / dt:.0f} img/s")
