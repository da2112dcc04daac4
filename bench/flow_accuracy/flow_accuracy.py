#!/usr/bin/python3
"""EPE of FlowGuide's classical and learned (RaftSmall) flow next to OpenCV Farneback and DIS (preset MEDIUM), in one run.

Pairs: the real ground-truth pairs in ../shared/data/flow/mmflow, and a procedural FlyingChairs-style set (textured
shapes under random affine motion over a moving photo background, some with a brightness change) cut from the real
frames in ../shared/data/video/cutie-judo. The procedural seed differs from the one the defaults were chosen on.
A third group is 12 pairs of FlowGuide's own ChairsGenerator at 64x64 (the learned estimator's training distribution;
seed 2024, which no training run used for training or model selection).
The learned column uses models/raft-small/raft-small.safetensors (or --weights PATH) when it exists.
Needs Debian's python3-opencv (run with /usr/bin/python3).  Usage: flow_accuracy.py [--seed N] [--pairs N] [--weights PATH] [--chairs N] [--time]
"""
import argparse, os, subprocess, sys, tempfile
import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shared():
    d = os.path.dirname(ROOT)
    while d != os.path.dirname(d):
        if os.path.isdir(os.path.join(d, 'shared', 'data')):
            return os.path.join(d, 'shared', 'data')
        d = os.path.dirname(d)
    sys.exit('shared/data not found above ' + ROOT)


def read_flo(path):
    with open(path, 'rb') as f:
        assert np.fromfile(f, np.float32, 1)[0] == 202021.25
        w, h = np.fromfile(f, np.int32, 2)
        return np.fromfile(f, np.float32, 2 * w * h).reshape(h, w, 2)


def write_flo(path, flow):
    h, w, _ = flow.shape
    with open(path, 'wb') as f:
        np.array([202021.25], np.float32).tofile(f)
        np.array([w, h], np.int32).tofile(f)
        flow.astype(np.float32).tofile(f)


def epe(flow, gt):
    valid = (np.abs(gt) <= 1e9).all(-1)
    return float(np.sqrt(((flow - gt) ** 2).sum(-1))[valid].mean())


def procedural(out, seed, count, size=128):
    rng = np.random.default_rng(seed)
    judo = os.path.join(shared(), 'video', 'cutie-judo')
    photos = [cv2.imread(os.path.join(judo, '%05d.jpg' % i))[:, :, ::-1].astype(np.float32) / 255 for i in (0, 5, 10, 15)]

    def crop():
        p = photos[rng.integers(len(photos))]
        y, x = rng.integers(0, p.shape[0] - size), rng.integers(0, p.shape[1] - size)
        return p[y:y + size, x:x + size]

    def affine(shift):
        a = rng.uniform(-0.04, 0.04, 4)
        return np.array([[1 + a[0], a[1], rng.uniform(-shift, shift)], [a[2], 1 + a[3], rng.uniform(-shift, shift)]])

    pairs = []
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    for k in range(count):
        layers = [(crop(), np.ones((size, size), bool), affine(6))]
        for _ in range(rng.integers(1, 4)):
            m = np.zeros((size, size), np.uint8)
            cx, cy = rng.integers(20, size - 20, 2)
            ax, ay = rng.integers(8, 30, 2)
            if rng.random() < 0.5:
                cv2.ellipse(m, (int(cx), int(cy)), (int(ax), int(ay)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
            else:
                cv2.rectangle(m, (int(cx - ax), int(cy - ay)), (int(cx + ax), int(cy + ay)), 1, -1)
            layers.append((crop(), m.astype(bool), affine(14)))
        f1 = np.zeros((size, size, 3), np.float32); f2 = np.zeros_like(f1); flow = np.zeros((size, size, 2), np.float32)
        for tex, m, A in layers:
            X, Y = xs - c, ys - c
            nx = A[0, 0] * X + A[0, 1] * Y + A[0, 2] + c
            ny = A[1, 0] * X + A[1, 1] * Y + A[1, 2] + c
            f1[m] = tex[m]; flow[m, 0] = (nx - xs)[m]; flow[m, 1] = (ny - ys)[m]
            M = np.array([[A[0, 0], A[0, 1], A[0, 2] + c - A[0, 0] * c - A[0, 1] * c],
                          [A[1, 0], A[1, 1], A[1, 2] + c - A[1, 0] * c - A[1, 1] * c]])
            Mi = cv2.invertAffineTransform(M)
            bx = Mi[0, 0] * xs + Mi[0, 1] * ys + Mi[0, 2]; by = Mi[1, 0] * xs + Mi[1, 1] * ys + Mi[1, 2]
            t2 = cv2.remap(tex, bx, by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            m2 = cv2.remap(m.astype(np.float32), bx, by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) > 0.5
            f2[m2] = t2[m2]
        if k % 3 == 2:
            f2 = np.clip(f2 * 1.1 + 0.03, 0, 1)  # a global brightness change
        f2 = np.clip(f2 + rng.normal(0, 0.005, f2.shape), 0, 1)
        name = 'proc%02d' % k
        paths = [os.path.join(out, '%s_%d.png' % (name, i)) for i in (1, 2)] + [os.path.join(out, name + '.flo')]
        for p, f in zip(paths, (f1, f2)):
            cv2.imwrite(p, (f[:, :, ::-1] * 255).round().astype(np.uint8))
        write_flo(paths[2], flow)
        pairs.append((name, *paths))
    return pairs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=2024)
    ap.add_argument('--pairs', type=int, default=12)
    ap.add_argument('--chairs', type=int, default=12)
    ap.add_argument('--time', action='store_true')
    ap.add_argument('--weights', default=os.path.join(ROOT, 'models', 'raft-small', 'raft-small.safetensors'))
    args = ap.parse_args()
    learned = os.path.isfile(args.weights)
    mm = os.path.join(shared(), 'flow', 'mmflow')
    real = [('mmflow-rendered', os.path.join(mm, '0000000-img_0.png'), os.path.join(mm, '0000000-img_1.png'), os.path.join(mm, '0000000-flow_01.flo')),
            ('flyingchairs-crop', os.path.join(mm, '00001_img1.ppm'), os.path.join(mm, '00001_img2.ppm'), os.path.join(mm, '00001_flow.flo'))]
    with tempfile.TemporaryDirectory() as tmp:
        proj = os.path.join(ROOT, 'bench', 'flow_accuracy', 'FlowAccuracy.csproj')
        subprocess.run(['dotnet', 'build', '-c', 'Release', '-v', 'q', '--nologo', proj], check=True, stdout=subprocess.DEVNULL)
        run = ['dotnet', 'run', '-c', 'Release', '--no-build', '--project', proj, '--']
        chairs = [tuple(l.split('\t')) for l in subprocess.run(run + ['chairs', tmp, str(args.seed), str(args.chairs)], check=True,
                                                                capture_output=True, text=True).stdout.splitlines() if l]
        procs = procedural(tmp, args.seed, args.pairs)
        pairs = real + procs + chairs
        manifest = os.path.join(tmp, 'manifest.tsv')
        with open(manifest, 'w') as f:
            f.writelines('\t'.join(p) + '\n' for p in pairs)
        out = subprocess.run(run + ['eval', manifest] + ([os.path.abspath(args.weights)] if learned else []),
                             check=True, capture_output=True, text=True).stdout
        results = {}
        for line in out.splitlines():
            name, method, e, _ = line.split('\t')
            results.setdefault(name, {})[method] = float(e)
        for name, a, b, flo in pairs:
            ga = cv2.cvtColor(cv2.imread(a), cv2.COLOR_BGR2GRAY); gb = cv2.cvtColor(cv2.imread(b), cv2.COLOR_BGR2GRAY)
            gt = read_flo(flo)
            results[name]['zero'] = epe(np.zeros_like(gt), gt)
            results[name]['farneback'] = epe(cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0), gt)
            results[name]['dis-medium'] = epe(cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(ga, gb, None), gt)
        cols = ['classical', 'classical-fast'] + (['learned'] if learned else []) + ['farneback', 'dis-medium', 'zero']
        print('| pair | ' + ' | '.join(cols) + ' |')
        print('|---' * (len(cols) + 1) + '|')
        for name, *_ in real:
            print('| %s | ' % name + ' | '.join('%.3f' % results[name][c] for c in cols) + ' |')
        for label, group in (('procedural', procs), ('chairs64', chairs)):
            if not group:
                continue
            names = [p[0] for p in group]
            print('| %s mean (%d pairs, seed %d) | ' % (label, len(names), args.seed) +
                  ' | '.join('%.3f' % np.mean([results[n][c] for n in names]) for c in cols) + ' |')
            print('| %s median | ' % label + ' | '.join('%.3f' % np.median([results[n][c] for n in names]) for c in cols) + ' |')
        print('\nOpenCV %s; EPE in pixels over pixels with known ground truth.' % cv2.__version__)
        if args.time:
            print(subprocess.run(run + ['time', '256'], check=True, capture_output=True, text=True).stdout)


if __name__ == '__main__':
    main()
