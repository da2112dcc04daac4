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
        Parallelism.For(n, 1, (b0, b1) =>
        {
            for (int b = b0; b < b1; b++)
                for (int it = 0; it < iterations; it++)
                    Step(o.Span.Slice(b * stateLen, stateLen), rhoC.Span.Slice(b * hw, hw), ig.Span.Slice(b * k * hw, k * hw),
                        invThreshold.Span.Slice(b * hw, hw), prm, h, w);
        });
        return Autograd.Record(o, "TvL1Iterations", (g, needs) => Backward(g, state, rhoC, ig, invThreshold, prm, iterations, needs),
            state, rhoC, ig, invThreshold);
    }

    /// <summary>One iteration in place on one batch element's state (u then p).</summary>
    private static void Step(Span<float> s, ReadOnlySpan<float> rhoC, ReadOnlySpan<float> ig, ReadOnlySpan<float> invT, Parameters prm, int h, int w)
    {
        int k = prm.Fields, hw = h * w;
        float lt = prm.LambdaTheta, theta = prm.Theta, gs = prm.GradientScale;
        // 1. primal: u' = u - c LT ig + theta div p (reads p only, u at its own pixel: in place)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                float rho = rhoC[i];
                for (int f = 0; f < k; f++) rho += ig[f * hw + i] * s[f * hw + i];
                float c = Math.Clamp(rho * invT[i], -1f, 1f);
                for (int f = 0; f < k; f++)
                {
                    int px = (k + 2 * f) * hw, py = px + hw;
                    float div = s[px + i] + s[py + i];
                    if (x > 0) div -= s[px + i - 1];
                    if (y > 0) div -= s[py + i - w];
                    s[f * hw + i] = s[f * hw + i] - c * lt * ig[f * hw + i] + theta * div;
                }
            }
        // 2. dual: p' = (p + g) / (1 + |g|), g = s grad u' (reads u' only, p at its own pixel: in place)
        for (int f = 0; f < k; f++)
        {
            int u = f * hw, px = (k + 2 * f) * hw, py = px + hw;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    float gx = x < w - 1 ? gs * (s[u + i + 1] - s[u + i]) : 0f;
                    float gy = y < h - 1 ? gs * (s[u + i + w] - s[u + i]) : 0f;
                    float m = MathF.Sqrt(gx * gx + gy * gy + MagnitudeEps) + 1f;
                    s[px + i] = (s[px + i] + gx) / m;
                    s[py + i] = (s[py + i] + gy) / m;
                }
        }
    }

    private static Tensor?[] Backward(Tensor gOut, Tensor state, Tensor rhoC, Tensor ig, Tensor invThreshold, Parameters prm, int iterations, bool[] needs)
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
                var all = states.Span.Slice(b * (iterations + 1) * stateLen, (iterations + 1) * stateLen);
                var rhoB = rhoC.Span.Slice(b * hw, hw); var igB = ig.Span.Slice(b * k * hw, k * hw); var tB = invThreshold.Span.Slice(b * hw, hw);
                state.Span.Slice(b * stateLen, stateLen).CopyTo(all);
                for (int it = 0; it < iterations; it++)
                {
                    var next = all.Slice((it + 1) * stateLen, stateLen);
                    all.Slice(it * stateLen, stateLen).CopyTo(next);
                    Step(next, rhoB, igB, tB, prm, h, w);
                }
                var g = gState.Span.Slice(b * stateLen, stateLen);
                for (int it = iterations - 1; it >= 0; it--)
                    StepBackward(g, all.Slice(it * stateLen, stateLen), all.Slice((it + 1) * stateLen, stateLen),
                        rhoB, igB, tB, gRho.Span.Slice(b * hw, hw), gIg.Span.Slice(b * k * hw, k * hw), gInv.Span.Slice(b * hw, hw),
                        scratch.Span.Slice(b * 2 * k * hw, 2 * k * hw), prm, h, w);
            }
        });
        return new Tensor?[] { needs[0] ? gState : null, needs[1] ? gRho : null, needs[2] ? gIg : null, needs[3] ? gInv : null };
    }

    /// <summary>
    /// Replaces <paramref name="g"/> (the gradient with respect to the state after one iteration) by the gradient with
    /// respect to the state before it (<paramref name="before"/>, giving <paramref name="after"/>), and adds the
    /// iteration's contributions to the gradients of rhoC, ig and invThreshold.
    /// </summary>
    private static void StepBackward(Span<float> g, ReadOnlySpan<float> before, ReadOnlySpan<float> after,
        ReadOnlySpan<float> rhoC, ReadOnlySpan<float> ig, ReadOnlySpan<float> invT,
        Span<float> gRho, Span<float> gIg, Span<float> gInv, Span<float> dg, Parameters prm, int h, int w)
    {
        int k = prm.Fields, hw = h * w;
        float lt = prm.LambdaTheta, theta = prm.Theta, gsc = prm.GradientScale;
        // 2'. dual step: p' = (p + g) / m, g = s grad u', m = 1 + r, r = sqrt(|g|^2 + eps). dg holds dL/dg per field.
        for (int f = 0; f < k; f++)
        {
            int u = f * hw, px = (k + 2 * f) * hw, py = px + hw, dx = 2 * f * hw, dy = dx + hw;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    float gx = x < w - 1 ? gsc * (after[u + i + 1] - after[u + i]) : 0f;
                    float gy = y < h - 1 ? gsc * (after[u + i + w] - after[u + i]) : 0f;
                    float r = MathF.Sqrt(gx * gx + gy * gy + MagnitudeEps), m = r + 1f;
                    float qx = before[px + i] + gx, qy = before[py + i] + gy;
                    float gpx = g[px + i], gpy = g[py + i];
                    float dm = -(gpx * qx + gpy * qy) / (m * m);
                    float dqx = gpx / m, dqy = gpy / m;
                    g[px + i] = dqx; // dL/dp through the dual step (the divergence adds below)
                    g[py + i] = dqy;
                    dg[dx + i] = x < w - 1 ? dqx + dm * gx / r : 0f;
                    dg[dy + i] = y < h - 1 ? dqy + dm * gy / r : 0f;
                }
            // dL/du' += s grad^T dg
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    float acc = -dg[dx + i] - dg[dy + i];
                    if (x > 0) acc += dg[dx + i - 1];
                    if (y > 0) acc += dg[dy + i - w];
                    g[u + i] += gsc * acc;
                }
        }
        // 1'. primal step: u' = u - c LT ig + theta div p. g's u part now holds dL/du' (= dL/du through the identity).
        for (int f = 0; f < k; f++)
        {
            int u = f * hw, px = (k + 2 * f) * hw, py = px + hw;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    float gu = g[u + i];
                    float right = x < w - 1 ? g[u + i + 1] : 0f, below = y < h - 1 ? g[u + i + w] : 0f;
                    g[px + i] += theta * (gu - right);
                    g[py + i] += theta * (gu - below);
                }
        }
        for (int i = 0; i < hw; i++)
        {
            float rho = rhoC[i];
            for (int f = 0; f < k; f++) rho += ig[f * hw + i] * before[f * hw + i];
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
