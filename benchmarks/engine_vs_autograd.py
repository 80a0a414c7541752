"""Training-step speed: rumelhart1986's hand-written backward engine against torch.autograd.

Both train the same sigmoid MLP (same weights, same full batch, momentum as in Eq. 9) and the script checks
that they end at the same weights before it reports the time ratio.
"""

import argparse
import time

import torch

from dlcanon.papers.rumelhart1986.model import GeneralisedDelta, SquaredError, layered_net


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="784,256,256,10", help="layer sizes")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    sizes = tuple(int(s) for s in a.sizes.split(","))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(a.batch, sizes[0], generator=g, dtype=dtype)
    d = (torch.rand(a.batch, sizes[-1], generator=g, dtype=dtype) > 0.5).to(dtype)
    eps, alpha = 0.01 / a.batch, 0.9

    net = layered_net(sizes, generator=torch.Generator().manual_seed(1), dtype=dtype)
    ref = [p.value.clone().requires_grad_() for p in net.params()]          # same initial weights
    loss, opt_ours = SquaredError(), GeneralisedDelta(net.params(), eps, alpha)
    opt_ref = torch.optim.SGD(ref, lr=eps, momentum=alpha, dampening=0)

    def ours():
        with torch.no_grad():
            net.zero_grad()
            loss.forward(net.forward(x), d)
            net.backward(loss.backward())
            opt_ours.step()

    def reference():
        h = x
        for i in range(0, len(ref), 2):
            h = torch.sigmoid(h @ ref[i].T + ref[i + 1])
        opt_ref.zero_grad()
        (0.5 * ((h - d) ** 2).sum()).backward()
        opt_ref.step()

    times = {}
    for name, step in [("ours", ours), ("autograd", reference)]:
        step()                                                     # warm-up (also a first update for both)
        t0 = time.perf_counter()
        for _ in range(a.steps - 1):
            step()
        times[name] = (time.perf_counter() - t0) / (a.steps - 1)
    diff = max((p.value - r.detach()).abs().max().item() for p, r in zip(net.params(), ref, strict=True))
    print(f"MLP {sizes}, batch {a.batch}, {a.dtype}, {a.threads} thread(s), {a.steps} steps")
    print(f"  ours     {times['ours'] * 1e3:8.2f} ms/step")
    print(f"  autograd {times['autograd'] * 1e3:8.2f} ms/step")
    print(f"  ratio ours/autograd = {times['ours'] / times['autograd']:.2f}   (max weight difference {diff:.2e})")


if __name__ == "__main__":
    main()
