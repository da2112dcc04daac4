using System.Runtime.CompilerServices;
using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Models.Flow;

/// <summary>
/// The TV-L1 primal-dual iterations of <see cref="ClassicalFlow"/> as one op with a hand-written backward pass. The
/// plain composition (<see cref="ClassicalFlow.IterateComposed"/>) records about 15 small ops per iteration, some 3000
/// for a 64x64 pair, whose per-op overhead dominates at video-model resolutions; this runs all iterations of one warp
/// in two in-place sweeps per iteration and records a single node that saves only its inputs. Backward recomputes the
/// iterations once, keeping every iteration's state (3K maps each), then walks them in reverse.
/// </summary>
/// <remarks>
/// State = (u [K], p [2K]) on the channel axis, p ordered (x, y) per field. One iteration, per pixel and field k:
/// rho = rhoC + sum_k ig_k u_k; c = clamp(rho invT, -1, 1); u'_k = u_k - c LT ig_k + theta div(p)_k with
/// div(p)(y, x) = px(y, x) - px(y, x-1) + py(y, x) - py(y-1, x) (zero outside); g = s grad(u') by forward differences
/// (zero across the last column / row); p'_k = (p_k + g_k) / (1 + sqrt(|g_k|^2 + 1e-8)). LT = lambda theta, s = tau / theta.
/// </remarks>
internal static class TvL1Iterations
{
    /// <summary>The iteration's constants: fields K, lambda theta, theta (divergence scale) and tau / theta (gradient scale).</summary>
    internal readonly record struct Parameters(int Fields, float LambdaTheta, float Theta, float GradientScale);

    private const float MagnitudeEps = 1e-8f;

    /// <summary>
    /// Runs <paramref name="iterations"/> iterations on <paramref name="state"/> [N, 3K, H, W] for the residual
    /// rho = <paramref name="rhoC"/> [N, 1, H, W] + <paramref name="ig"/> [N, K, H, W] . u, with
    /// <paramref name="invThreshold"/> [N, 1, H, W]; returns the new state. Differentiable with respect to all four inputs.
    /// </summary>
    public static Tensor Run(Tensor state, Tensor rhoC, Tensor ig, Tensor invThreshold, Parameters prm, int iterations)
    {
        int n = state.Size(0), k = prm.Fields, h = state.Size(2), w = state.Size(3);
        if (state.Rank != 4 || state.Size(1) != 3 * k)
            throw new ArgumentException($"TvL1Iterations: state has shape {state.Shape}, expected [N, {3 * k}, H, W].");
        if (rhoC.Shape != new Shape(n, 1, h, w) || invThreshold.Shape != rhoC.Shape || ig.Shape != new Shape(n, k, h, w))
            throw new ArgumentException($"TvL1Iterations: rhoC {rhoC.Shape}, ig {ig.Shape}, invThreshold {invThreshold.Shape} do not match state {state.Shape}.");
        if (iterations < 0) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "TvL1Iterations: iterations must be >= 0.");

        var o = Tensor.Empty(state.Shape);
        state.Span.CopyTo(o.Span);
        int hw = h * w, stateLen = 3 * k * hw;
        bool rowParallel = n < Parallelism.NumThreads;
        Parallelism.For(n, 1, (b0, b1) =>
        {
            for (int b = b0; b < b1; b++)
            {
                var e = new Element(o, b * stateLen, rhoC, ig, invThreshold, b, prm, h, w);
                for (int it = 0; it < iterations; it++) e.Step(rowParallel);
            }
        });
        return Autograd.Record(o, "TvL1Iterations", (g, needs) => Backward(g, state, rhoC, ig, invThreshold, prm, iterations, rowParallel, needs),
            state, rhoC, ig, invThreshold);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(y0, y1) over row ranges: split across the engine's threads in chunks of at least
    /// 2048 pixels (a 64x64 level splits in two) when <paramref name="parallel"/> (one batch element at a time), else inline. Every pass below reads
    /// only values no other row of the same pass writes, so the split never changes a result.
    /// </summary>
    private static void Rows(int h, int w, bool parallel, Action<int, int> body)
    {
        if (parallel) Parallelism.For(h, Math.Max(1, 2048 / w), body);
        else body(0, h);
    }

    /// <summary>One batch element: its state (at an offset of a tensor) and inputs, with the passes of an iteration.</summary>
    private readonly struct Element
    {
        private readonly Tensor _state, _rhoC, _ig, _invT;
        private readonly int _offset, _b;
        private readonly Parameters _prm;
        private readonly int _h, _w;

        public Element(Tensor state, int offset, Tensor rhoC, Tensor ig, Tensor invT, int b, Parameters prm, int h, int w)
        {
            (_state, _offset, _rhoC, _ig, _invT, _b, _prm, _h, _w) = (state, offset, rhoC, ig, invT, b, prm, h, w);
        }

        private int Hw => _h * _w;
        public Span<float> S => _state.Span.Slice(_offset, 3 * _prm.Fields * Hw);
        public ReadOnlySpan<float> RhoC => _rhoC.Span.Slice(_b * Hw, Hw);
        public ReadOnlySpan<float> Ig => _ig.Span.Slice(_b * _prm.Fields * Hw, _prm.Fields * Hw);
        public ReadOnlySpan<float> InvT => _invT.Span.Slice(_b * Hw, Hw);

        /// <summary>One iteration in place: the primal pass (reads p, writes u), then the dual pass (reads u', writes p).</summary>
        public void Step(bool parallel)
        {
            var e = this;
            Rows(_h, _w, parallel, (y0, y1) => Primal(e.S, e.RhoC, e.Ig, e.InvT, e._prm, e._h, e._w, y0, y1));
            Rows(_h, _w, parallel, (y0, y1) => Dual(e.S, e._prm, e._h, e._w, y0, y1));
        }
    }

    /// <summary>The linearised residual rho = rhoC + sum_k ig_k u_k at pixel <paramref name="i"/> (u = the state's first K maps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Residual(ReadOnlySpan<float> u, ReadOnlySpan<float> rhoC, ReadOnlySpan<float> ig, int i, int k, int hw)
    {
        float rho = rhoC[i];
        for (int f = 0; f < k; f++) rho += ig[f * hw + i] * u[f * hw + i];
        return rho;
    }

    /// <summary>s x the forward differences of the field at offset <paramref name="u"/>, zero across the last column / row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float Gx, float Gy) ForwardDifference(ReadOnlySpan<float> s, int u, int i, int x, int y, int w, int h, float scale) =>
        (x < w - 1 ? scale * (s[u + i + 1] - s[u + i]) : 0f, y < h - 1 ? scale * (s[u + i + w] - s[u + i]) : 0f);

    /// <summary>Rows [y0, y1) of u' = u - c LT ig + theta div p (reads p only, and u at its own pixel: in place).</summary>
    private static void Primal(Span<float> s, ReadOnlySpan<float> rhoC, ReadOnlySpan<float> ig, ReadOnlySpan<float> invT, Parameters prm, int h, int w, int y0, int y1)
    {
        int k = prm.Fields, hw = h * w;
        float lt = prm.LambdaTheta, theta = prm.Theta;
        for (int y = y0; y < y1; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                float c = Math.Clamp(Residual(s, rhoC, ig, i, k, hw) * invT[i], -1f, 1f);
                for (int f = 0; f < k; f++)
                {
                    int px = (k + 2 * f) * hw, py = px + hw;
                    float div = s[px + i] + s[py + i];
                    if (x > 0) div -= s[px + i - 1];
                    if (y > 0) div -= s[py + i - w];
                    s[f * hw + i] = s[f * hw + i] - c * lt * ig[f * hw + i] + theta * div;
                }
            }
    }

    /// <summary>Rows [y0, y1) of p' = (p + g) / (1 + |g|), g = s grad u' (reads u' only, and p at its own pixel: in place).</summary>
    private static void Dual(Span<float> s, Parameters prm, int h, int w, int y0, int y1)
    {
        int k = prm.Fields, hw = h * w;
        float gs = prm.GradientScale;
        for (int f = 0; f < k; f++)
        {
            int u = f * hw, px = (k + 2 * f) * hw, py = px + hw;
            for (int y = y0; y < y1; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    var (gx, gy) = ForwardDifference(s, u, i, x, y, w, h, gs);
                    float m = MathF.Sqrt(gx * gx + gy * gy + MagnitudeEps) + 1f;
                    s[px + i] = (s[px + i] + gx) / m;
                    s[py + i] = (s[py + i] + gy) / m;
                }
        }
    }

    private static Tensor?[] Backward(Tensor gOut, Tensor state, Tensor rhoC, Tensor ig, Tensor invThreshold, Parameters prm, int iterations, bool rowParallel, bool[] needs)
    {
        int n = state.Size(0), k = prm.Fields, h = state.Size(2), w = state.Size(3), hw = h * w, stateLen = 3 * k * hw;
        var gState = Tensor.Empty(state.Shape);
        gOut.Span.CopyTo(gState.Span);
        var gRho = Tensor.Zeros(rhoC.Shape);
        var gIg = Tensor.Zeros(ig.Shape);
        var gInv = Tensor.Zeros(invThreshold.Shape);
        // every iteration's state of every batch element, recomputed: [N, iterations + 1, 3K, H, W]
        using var states = Tensor.Empty(n, iterations + 1, 3 * k, h, w);
        using var scratch = Tensor.Empty(n, 2 * k, h, w);
        Parallelism.For(n, 1, (b0, b1) =>
        {
            for (int b = b0; b < b1; b++)
            {
                int first = b * (iterations + 1) * stateLen;
                state.Span.Slice(b * stateLen, stateLen).CopyTo(states.Span.Slice(first, stateLen));
                for (int it = 0; it < iterations; it++)
                {
                    states.Span.Slice(first + it * stateLen, stateLen).CopyTo(states.Span.Slice(first + (it + 1) * stateLen, stateLen));
                    new Element(states, first + (it + 1) * stateLen, rhoC, ig, invThreshold, b, prm, h, w).Step(rowParallel);
                }
                var grads = new Gradients(gState, gRho, gIg, gInv, scratch, b, prm, h, w);
                for (int it = iterations - 1; it >= 0; it--)
                    grads.StepBack(new Element(states, first + it * stateLen, rhoC, ig, invThreshold, b, prm, h, w),
                        new Element(states, first + (it + 1) * stateLen, rhoC, ig, invThreshold, b, prm, h, w), rowParallel);
            }
        });
        return new Tensor?[] { needs[0] ? gState : null, needs[1] ? gRho : null, needs[2] ? gIg : null, needs[3] ? gInv : null };
    }

    /// <summary>One batch element's gradient buffers: the state's (updated in place iteration by iteration), the inputs' (accumulated) and scratch for dL/dg.</summary>
    private readonly struct Gradients
    {
        private readonly Tensor _g, _rho, _ig, _inv, _dg;
        private readonly int _b;
        private readonly Parameters _prm;
        private readonly int _h, _w;

        public Gradients(Tensor g, Tensor rho, Tensor ig, Tensor inv, Tensor dg, int b, Parameters prm, int h, int w)
        {
            (_g, _rho, _ig, _inv, _dg, _b, _prm, _h, _w) = (g, rho, ig, inv, dg, b, prm, h, w);
        }

        private int Hw => _h * _w;
        private Span<float> G => _g.Span.Slice(_b * 3 * _prm.Fields * Hw, 3 * _prm.Fields * Hw);
        private Span<float> Dg => _dg.Span.Slice(_b * 2 * _prm.Fields * Hw, 2 * _prm.Fields * Hw);

        /// <summary>
        /// Replaces the state gradient (with respect to <paramref name="after"/>) by the gradient with respect to
        /// <paramref name="before"/>, and adds the iteration's contributions to the inputs' gradients; four passes, each split by rows.
        /// </summary>
        public void StepBack(Element before, Element after, bool parallel)
        {
            var self = this;
            int h = _h, w = _w; var prm = _prm;
            Rows(h, w, parallel, (y0, y1) => DualBackward(self.G, self.Dg, before.S, after.S, prm, h, w, y0, y1));
            Rows(h, w, parallel, (y0, y1) => GradientAdjoint(self.G, self.Dg, prm, h, w, y0, y1));
            Rows(h, w, parallel, (y0, y1) => DivergenceAdjoint(self.G, prm, h, w, y0, y1));
            Rows(h, w, parallel, (y0, y1) => PrimalBackward(self.G, before.S, before.RhoC, before.Ig, before.InvT,
                self._rho.Span.Slice(self._b * self.Hw, self.Hw), self._ig.Span.Slice(self._b * prm.Fields * self.Hw, prm.Fields * self.Hw),
                self._inv.Span.Slice(self._b * self.Hw, self.Hw), prm, h, w, y0, y1));
        }
    }

    /// <summary>
    /// Rows [y0, y1) of the dual step's backward, p' = (p + g) / m with g = s grad u', m = 1 + r, r = sqrt(|g|^2 + eps):
    /// replaces dL/dp' in <paramref name="g"/> by the direct part of dL/dp and writes dL/dg (zero where g is the constant 0).
    /// </summary>
    private static void DualBackward(Span<float> g, Span<float> dg, ReadOnlySpan<float> before, ReadOnlySpan<float> after, Parameters prm, int h, int w, int y0, int y1)
    {
        int k = prm.Fields, hw = h * w;
        float gsc = prm.GradientScale;
        for (int f = 0; f < k; f++)
        {
            int u = f * hw, px = (k + 2 * f) * hw, py = px + hw, dx = 2 * f * hw, dy = dx + hw;
            for (int y = y0; y < y1; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    var (gx, gy) = ForwardDifference(after, u, i, x, y, w, h, gsc);
                    float r = MathF.Sqrt(gx * gx + gy * gy + MagnitudeEps), m = r + 1f;
                    float qx = before[px + i] + gx, qy = before[py + i] + gy;
                    float gpx = g[px + i], gpy = g[py + i];
                    float dm = -(gpx * qx + gpy * qy) / (m * m);
                    float dqx = gpx / m, dqy = gpy / m;
                    g[px + i] = dqx;
                    g[py + i] = dqy;
                    dg[dx + i] = x < w - 1 ? dqx + dm * gx / r : 0f;
                    dg[dy + i] = y < h - 1 ? dqy + dm * gy / r : 0f;
                }
        }
    }

    /// <summary>Rows [y0, y1) of dL/du' += s grad^T dL/dg (reads dg of the row above and the column left).</summary>
    private static void GradientAdjoint(Span<float> g, ReadOnlySpan<float> dg, Parameters prm, int h, int w, int y0, int y1)
    {
        int k = prm.Fields, hw = h * w;
        float gsc = prm.GradientScale;
        for (int f = 0; f < k; f++)
        {
            int u = f * hw, dx = 2 * f * hw, dy = dx + hw;
            for (int y = y0; y < y1; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    float acc = -dg[dx + i] - dg[dy + i];
                    if (x > 0) acc += dg[dx + i - 1];
                    if (y > 0) acc += dg[dy + i - w];
                    g[u + i] += gsc * acc;
                }
        }
    }

    /// <summary>Rows [y0, y1) of dL/dp += theta div^T dL/du' (reads dL/du' of the row below and the column right).</summary>
    private static void DivergenceAdjoint(Span<float> g, Parameters prm, int h, int w, int y0, int y1)
    {
        int k = prm.Fields, hw = h * w;
        float theta = prm.Theta;
        for (int f = 0; f < k; f++)
        {
            int u = f * hw, px = (k + 2 * f) * hw, py = px + hw;
            for (int y = y0; y < y1; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    float gu = g[u + i];
                    float right = x < w - 1 ? g[u + i + 1] : 0f, below = y < h - 1 ? g[u + i + w] : 0f;
                    g[px + i] += theta * (gu - right);
                    g[py + i] += theta * (gu - below);
                }
        }
    }

    /// <summary>
    /// Rows [y0, y1) of the primal step's backward through the threshold: with dL/du' in g's u part (also dL/du through
    /// the identity), adds the residual's terms to dL/du and accumulates dL/drhoC, dL/dig and dL/dinvThreshold.
    /// </summary>
    private static void PrimalBackward(Span<float> g, ReadOnlySpan<float> before, ReadOnlySpan<float> rhoC, ReadOnlySpan<float> ig, ReadOnlySpan<float> invT,
        Span<float> gRho, Span<float> gIg, Span<float> gInv, Parameters prm, int h, int w, int y0, int y1)
    {
        int k = prm.Fields, hw = h * w;
        float lt = prm.LambdaTheta;
        for (int i = y0 * w; i < y1 * w; i++)
        {
            float rho = Residual(before, rhoC, ig, i, k, hw);
            float a = rho * invT[i], c = Math.Clamp(a, -1f, 1f);
            float dc = 0f;
            for (int f = 0; f < k; f++)
            {
                float gu = g[f * hw + i];
                dc -= lt * gu * ig[f * hw + i];
                gIg[f * hw + i] -= c * lt * gu;
            }
            float da = a >= -1f && a <= 1f ? dc : 0f; // the engine's Clamp passes the gradient on [min, max], ends included
            float drho = da * invT[i];
            gInv[i] += da * rho;
            gRho[i] += drho;
            for (int f = 0; f < k; f++)
            {
                gIg[f * hw + i] += drho * before[f * hw + i];
                g[f * hw + i] += drho * ig[f * hw + i];
            }
        }
    }
}
