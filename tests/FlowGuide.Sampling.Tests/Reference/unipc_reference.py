"""Independent float64 numpy re-statement of diffusers' UniPCMultistepScheduler step (predict_x0, bh2, solver_order 2,
flow sigmas, flow_prediction, lower_order_final, final_sigmas_type zero), following its structure (generic R/b
order conditions solved with linalg.solve, rho_p = 0.5 for order 2), on the toy Gaussian flow used by the C# tests.
Prints the numbers pasted into SolverTests.cs. Run with /usr/bin/python3."""
import numpy as np

def sigmas_wan(n, shift):
    alphas = np.linspace(1, 1 / 1000, n + 1)
    s = 1.0 - alphas
    s = np.flip(shift * s / (1 + (shift - 1) * s))[:-1].copy()
    return np.concatenate([s, [0.0]])

MU = np.array([0.3, -0.7, 1.1, 0.0, 0.5, -0.2])
XI = np.array([0.8, -1.3, 0.1, 2.0, -0.4, 1.5])
S = 0.5

def std(t): return np.sqrt((1 - t) ** 2 * S * S + t * t)
def velocity(z, t): return -MU + (t - (1 - t) * S * S) / std(t) ** 2 * (z - (1 - t) * MU)
def exact(t): return (1 - t) * MU + std(t) * XI

def lam(sig): 
    with np.errstate(divide="ignore"):
        return np.log(1 - sig) - np.log(sig)

def unipc(sig, z, order_max=2):
    n = len(sig) - 1
    outs, last_sample, this_order, lower = [], None, None, 0
    traj = []
    for i in range(n):
        v = velocity(z, sig[i])
        m = z - sig[i] * v                      # convert_model_output
        if i > 0 and last_sample is not None:   # UniC
            m0, x = outs[-1], last_sample
            st, ss0 = sig[i], sig[i - 1]
            at = 1 - st
            h = lam(st) - lam(ss0)
            rks, d1s = [], []
            for k in range(1, this_order):
                mi = outs[-(k + 1)]
                rk = (lam(sig[i - (k + 1)]) - lam(ss0)) / h
                rks.append(rk); d1s.append((mi - m0) / rk)
            rks.append(1.0); rks = np.array(rks)
            hh = -h; hphi1 = np.expm1(hh); hphik = hphi1 / hh - 1; fac = 1; bh = np.expm1(hh)
            R, b = [], []
            for k in range(1, this_order + 1):
                R.append(rks ** (k - 1)); b.append(hphik * fac / bh); fac *= k + 1; hphik = hphik / hh - 1 / fac
            R = np.stack(R); b = np.array(b)
            rhos = np.array([0.5]) if this_order == 1 else np.linalg.solve(R, b)
            xt_ = st / ss0 * x - at * hphi1 * m0
            corr = sum(rhos[k] * d1s[k] for k in range(len(d1s))) if d1s else 0
            z = xt_ - at * bh * (corr + rhos[-1] * (m - m0))
        outs = (outs + [m])[-order_max:]
        order = min(order_max, n - i)
        this_order = min(order, lower + 1)
        last_sample = z
        # UniP
        m0 = outs[-1]
        st, ss0 = sig[i + 1], sig[i]
        at = 1 - st
        with np.errstate(divide="ignore", invalid="ignore"):
            h = lam(st) - lam(ss0)
            hh = -h; hphi1 = np.expm1(hh); bh = np.expm1(hh)
            xt_ = (st / ss0) * z - at * hphi1 * m0
        if this_order == 2:
            rk = (lam(sig[i - 1]) - lam(ss0)) / h
            d1 = (outs[-2] - m0) / rk
            z = xt_ - at * bh * 0.5 * d1
        else:
            z = xt_
        lower = min(lower + 1, order_max)
        traj.append(z.copy())
    return z, traj

def euler(sig, z):
    for i in range(len(sig) - 1):
        z = z + (sig[i + 1] - sig[i]) * velocity(z, sig[i])
    return z

np.set_printoptions(precision=10, floatmode="fixed", linewidth=150)
sig = sigmas_wan(10, 3.0)
z0 = exact(sig[0])
zf, traj = unipc(sig, z0)
print("10-step shift-3 UniPC trajectory (element 0, 1, 3 per step):")
for i, t in enumerate(traj): print(i, repr([float(t[0]), float(t[1]), float(t[3])]))
print("final", repr([float(x) for x in zf]))
print("exact", repr([float(x) for x in exact(0.0)]))
for n in (10, 20, 40, 80):
    sg = sigmas_wan(n, 1.0)
    eu = np.abs(euler(sg, exact(sg[0])) - exact(0.0)).max()
    up = np.abs(unipc(sg, exact(sg[0]))[0] - exact(0.0)).max()
    print(n, "euler", eu, "unipc", up)
