using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>
/// RaftSmall (the shipped 0.8M-parameter configuration, 8 iterations, random weights) on one 64x64 RGB pair: the
/// no-tape forward that <c>flowguide flow --method learned</c> runs (issue target: at most 50 ms), the recorded forward,
/// and forward + backward to both frames (issue target: backward at most 3x the forward). Warm-up runs are many (40)
/// so that every method has reached the tiered JIT's optimised code before the timed runs.
/// </summary>
public static class FlowCases
{
    public static IEnumerable<BenchResult> Raft()
    {
        var model = new RaftSmall(RaftSmallConfig.Small, new Rng(1));
        model.Eval();
        var rng = new Rng(2);
        var a = Tensor.Rand(rng, 1, 3, 64, 64).MulScalar(2f).AddScalar(-1f);
        var b = Tensor.Rand(rng, 1, 3, 64, 64).MulScalar(2f).AddScalar(-1f);
        yield return Harness.Measure("raft-small fwd 64x64 (no tape)", "flowguide", () =>
        {
            using var _ = GradMode.NoGrad();
            using var scope = new TensorScope();
            model.Estimate(a, b);
        }, warmup: 40, minRuns: 30, minSeconds: 2);
        yield return Harness.Measure("raft-small fwd 64x64 (recording)", "flowguide", () =>
        {
            using var scope = new TensorScope();
            var x1 = a.DetachedLeaf(); var x2 = b.DetachedLeaf();
            model.Estimate(x1, x2);
        }, warmup: 20, minRuns: 20, minSeconds: 2);
        yield return Harness.Measure("raft-small fwd+bwd 64x64 (frames)", "flowguide", () =>
        {
            using var scope = new TensorScope();
            var x1 = a.DetachedLeaf(); var x2 = b.DetachedLeaf();
            Autograd.Grad(model.Estimate(x1, x2).Sum(), new[] { x1, x2 });
        }, warmup: 20, minRuns: 20, minSeconds: 2);
    }
}
