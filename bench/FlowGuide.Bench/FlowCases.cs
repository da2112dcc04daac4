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
    /// <summary>
    /// The differentiable TV-L1 estimator (<see cref="ClassicalFlow"/>) on random smooth RGB pairs, at the three shapes
    /// FlowGuide runs it on: one 64x64 pair at the settings MotionPrompt's shipped discriminator and FlowLoss's trainer
    /// use (3 warps x 20 iterations, 10 at the finest level), 16 pairs at 64x64 at the same settings with checkpointed
    /// warps (FlowLoss's training estimator: one training step's frame pairs), and one 256x256 pair at the defaults. For each: forward without a tape, forward recording,
    /// and forward + backward to the first frame; the peak is the buffer pool's live bytes above the inputs.
    /// </summary>
    public static IEnumerable<BenchResult> Classical()
    {
        var mp = ClassicalFlowOptions.Default with { Warps = 3, Iterations = 20, FinestIterations = 10 };
        var cases = new (string Name, int N, int Size, ClassicalFlowOptions Options)[]
        {
            ("1x64x64 fast", 1, 64, mp),
            ("16x64x64 fast, ckpt warps", 16, 64, mp with { CheckpointWarps = true }),
            ("1x256x256 default", 1, 256, ClassicalFlowOptions.Default),
        };
        foreach (var (name, n, size, options) in cases)
        {
            var rng = new Rng(3);
            var a = ClassicalFlow.GaussianBlur(Tensor.Rand(rng, n, 3, size, size), 2f).MulScalar(2f).AddScalar(-1f);
            var b = ClassicalFlow.GaussianBlur(Tensor.Rand(rng, n, 3, size, size), 2f).MulScalar(2f).AddScalar(-1f);
            var est = new ClassicalFlow(options);
            int warm = size > 128 ? 3 : 40, runs = size > 128 ? 5 : 20; // many small-case warm-ups: every method reaches tiered JIT code first
            yield return Harness.Measure($"classical {name} fwd (no tape)", "flowguide", () =>
            {
                using var _ = GradMode.NoGrad();
                using var scope = new TensorScope();
                est.Estimate(a, b);
            }, warmup: warm, minRuns: runs, minSeconds: 1);
            yield return Harness.Measure($"classical {name} fwd (recording)", "flowguide", () =>
            {
                using var scope = new TensorScope();
                est.Estimate(a.DetachedLeaf(), b);
            }, warmup: warm, minRuns: runs, minSeconds: 1);
            long peak = 0;
            var r = Harness.Measure($"classical {name} fwd+bwd", "flowguide", () =>
            {
                using var scope = new TensorScope();
                BufferPool.ResetPeak();
                long start = BufferPool.LiveBytes;
                var x = a.DetachedLeaf();
                Autograd.Grad(est.Estimate(x, b).Sum(), new[] { x });
                peak = Math.Max(peak, BufferPool.PeakLiveBytes - start);
            }, warmup: warm, minRuns: runs, minSeconds: 1);
            yield return r with { PeakBytes = peak };
        }
    }
}
