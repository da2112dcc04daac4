using FlowGuide.Models.Flow;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training.Tests;

/// <summary>FlowLoss on its own: the noise-level weights on known values, the occlusion-weighted error, the gate's skipping, zero loss for identical videos.</summary>
public sealed class FlowLossTests
{
    /// <summary>A tiny, fast estimator setting for 16x16 frames.</summary>
    internal static readonly ClassicalFlowOptions TinyEstimator = ClassicalFlowOptions.Default with
    {
        Levels = 2, MinLevelSize = 4, Warps = 2, Iterations = 4, FinestIterations = null,
    };

    [Theory]
    [InlineData(0.5, 1.0)]
    [InlineData(0.2, 0.25)]
    [InlineData(0.8, 4.0)]
    [InlineData(0.1, 1.0 / 9)]
    public void SigmaIsTOverOneMinusT(double t, double sigma) => Assert.Equal(sigma, FlowLoss.Sigma(t), 12);

    [Fact]
    public void SigmaRejectsTheEnds()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowLoss.Sigma(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowLoss.Sigma(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowLoss.EdmLambda(0));
    }

    [Fact]
    public void WeightsOnKnownValues()
    {
        Assert.Equal(2.0, FlowLoss.EdmLambda(1), 12);
        Assert.Equal(5.0, FlowLoss.EdmLambda(0.5), 12);
        Assert.Equal(17.0, FlowLoss.EdmLambda(0.25), 12);
        // hard gate: 1 / (sigma^2 + 1) strictly below psi, else 0
        Assert.Equal(0.8, FlowLoss.GateWeight(0.5, 1.0), 12);
        Assert.Equal(16.0 / 17, FlowLoss.GateWeight(0.25, 0.5), 12);
        Assert.Equal(0.0, FlowLoss.GateWeight(1.0, 1.0));
        Assert.Equal(0.0, FlowLoss.GateWeight(2.0, 1.0));
        // weighted averages: w_ss = 1 / (sigma^2 + 1), w_ls = sigma^2 / (sigma^2 + 1)
        Assert.Equal(0.5, FlowLoss.SmallSigmaWeight(1), 12);
        Assert.Equal(0.8, FlowLoss.SmallSigmaWeight(0.5), 12);
        Assert.Equal(0.2, FlowLoss.LargeSigmaWeight(0.5), 12);
        Assert.Equal(0.8, FlowLoss.LargeSigmaWeight(2), 12);
        foreach (var s in new[] { 0.01, 0.3, 1.0, 7.0, 300.0 })
            Assert.Equal(1.0, FlowLoss.SmallSigmaWeight(s) + FlowLoss.LargeSigmaWeight(s), 12);
        // w lambda = 1 / sigma^2 under the gate
        Assert.Equal(16.0, FlowLoss.GateWeight(0.25, 1) * FlowLoss.EdmLambda(0.25), 9);
    }

    [Fact]
    public void WeightingsSetBothTerms()
    {
        var gate = new FlowLoss(new FlowLossOptions { Psi = 0.5 });
        Assert.Equal(1.0, gate.ReconstructionWeight(0.25));
        Assert.Equal(1.0, gate.ReconstructionWeight(3));
        Assert.Equal(16.0 / 17, gate.FlowWeight(0.25), 12);
        Assert.Equal(0.0, gate.FlowWeight(0.5));
        var ss = new FlowLoss(new FlowLossOptions { Weighting = FlowLossWeighting.SmallSigma });
        Assert.Equal(0.8, ss.FlowWeight(0.5), 12);
        Assert.Equal(0.2, ss.ReconstructionWeight(0.5), 12);
        var ls = new FlowLoss(new FlowLossOptions { Weighting = FlowLossWeighting.LargeSigma });
        Assert.Equal(0.2, ls.FlowWeight(0.5), 12);
        Assert.Equal(0.8, ls.ReconstructionWeight(0.5), 12);
    }

    [Fact]
    public void OptionsRejectBadValues()
    {
        Assert.Throws<ArgumentException>(() => new FlowLoss(new FlowLossOptions { Psi = 0 }));
        Assert.Throws<ArgumentException>(() => new FlowLoss(new FlowLossOptions { Scale = -1 }));
        Assert.Throws<ArgumentException>(() => new FlowLoss(new FlowLossOptions { OccludedWeight = 1.5f }));
        Assert.Throws<ArgumentException>(() => new FlowLoss(new FlowLossOptions { Target = FlowTargetSource.World, Occlusion = OcclusionSource.ForwardBackward }));
    }

    [Fact]
    public void WeightedSquaredErrorCountsOccludedPixelsAtPointThree()
    {
        var loss = new FlowLoss(new FlowLossOptions());
        // batch 2, 2 pairs, 2x3 frames; prediction (1, 2) everywhere -> |d|^2 = 5 per pixel
        var flow = Tensor.Zeros(2, 2, 2, 2, 3);
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 2; p++)
                for (int y = 0; y < 2; y++)
                    for (int x = 0; x < 3; x++) { flow[b, p, 0, y, x] = 1; flow[b, p, 1, y, x] = 2; }
        var occ = Tensor.Zeros(2, 2, 2, 3);
        occ[0, 0, 0, 0] = 1; occ[0, 1, 1, 2] = 1; occ[0, 1, 0, 1] = 1; // three occluded pixels in sample 0, none in sample 1
        var err = loss.WeightedSquaredError(flow, new FlowTarget(Tensor.Zeros(2, 2, 2, 2, 3), occ)).ToArray();
        Assert.Equal(5 * (9 + 3 * 0.3), err[0], 4);
        Assert.Equal(5 * 12.0, err[1], 4);
    }

    /// <summary>A fake estimator: u = mean over channels of (frame2 - frame1), v = 0 (differentiable), counting its calls and pairs.</summary>
    private sealed class CountingEstimator
    {
        public int Calls;
        public int Pairs;

        public Tensor Estimate(Tensor a, Tensor b)
        {
            Calls++;
            Pairs += a.Size(0);
            var u = b.Sub(a).Mean(1, keepDim: true);                          // [N, 1, H, W]
            return Ops.Concat(new[] { u, u.MulScalar(0f) }, 1);               // [N, 2, H, W]
        }
    }

    private static Tensor Video(int b, int seed) => Tensor.Randn(new Rng((ulong)seed), b, 3, 3, 4, 4).MulScalar(0.5f);

    [Fact]
    public void GateSkipsEstimatorDecoderAndTargetsWhenNoSamplePasses()
    {
        var est = new CountingEstimator();
        var loss = new FlowLoss(new FlowLossOptions { Psi = 0.3 }, est.Estimate);
        var recon = Tensor.FromArray(new[] { 0.5f, 1.5f, 4f }, 3).DetachedLeaf();
        int decoded = 0, targeted = 0;
        var r = loss.Apply(recon, new[] { 0.5f, 0.7f, 0.25f }, rows => { decoded++; return Video(rows.Length, 1); },
            rows => { targeted++; return new FlowTarget(Tensor.Zeros(rows.Length, 2, 2, 4, 4), Tensor.Zeros(rows.Length, 2, 4, 4)); });
        Assert.Equal(0, est.Calls);
        Assert.Equal(0, decoded);
        Assert.Equal(0, targeted);
        Assert.Empty(r.Passed);
        Assert.Equal(2.0, r.Loss.Item(), 5);           // plain mean of the reconstruction losses
        Assert.Equal(0.0, r.FlowTerm);
        Assert.True(double.IsNaN(r.FlowEpe));
        var g = Autograd.Grad(r.Loss, new[] { recon })[0].ToArray();
        Assert.All(g, v => Assert.Equal(1f / 3, v, 5));
    }

    [Fact]
    public void GateComputesFlowOnlyForPassingSamplesWithKnownWeights()
    {
        var est = new CountingEstimator();
        const double scale = 1e-2;
        var loss = new FlowLoss(new FlowLossOptions { Psi = 0.5, Scale = scale }, est.Estimate);
        var recon = Tensor.FromArray(new[] { 0.5f, 1.5f, 4f }, 3);
        var t = new[] { 0.5f, 0.2f, 0.8f };                                   // sigma 1, 0.25, 4: only sample 1 passes
        var videos = Video(3, 2);
        int[]? decodedRows = null;
        var target = new FlowTarget(Tensor.Randn(new Rng(3), 1, 2, 2, 4, 4), Tensor.Zeros(1, 2, 4, 4));
        var r = loss.Apply(recon, t, rows => { decodedRows = rows; return videos.IndexSelect(0, rows); }, rows => target);
        Assert.Equal(new[] { 1 }, r.Passed);
        Assert.Equal(new[] { 1 }, decodedRows);
        Assert.Equal(1, est.Calls);
        Assert.Equal(2, est.Pairs);                                           // one video of 3 frames -> 2 pairs
        double sigma = 0.25, err = loss.WeightedSquaredError(loss.EstimateFlows(videos.IndexSelect(0, new[] { 1 })), target).Item();
        double expectedFlow = FlowLoss.GateWeight(sigma, 0.5) * scale * FlowLoss.EdmLambda(sigma) * err / 3; // = scale err / (3 sigma^2)
        Assert.Equal(scale * err * 16 / 3, expectedFlow, 6);
        Assert.Equal(expectedFlow, r.FlowTerm, 5);
        Assert.Equal(2.0 + expectedFlow, r.Loss.Item(), 4);
        Assert.Equal(2.0, r.Reconstruction, 5);
    }

    [Fact]
    public void WeightedAverageComputesEverySampleAndReweightsReconstruction()
    {
        var est = new CountingEstimator();
        var loss = new FlowLoss(new FlowLossOptions { Weighting = FlowLossWeighting.LargeSigma, Scale = 1 }, est.Estimate);
        var recon = Tensor.FromArray(new[] { 1f, 2f }, 2);
        var videos = Video(2, 4);
        var zeroTarget = new FlowTarget(Tensor.Zeros(2, 2, 2, 4, 4), Tensor.Zeros(2, 2, 4, 4));
        var r = loss.Apply(recon, new[] { 0.5f, 0.2f }, rows => videos.IndexSelect(0, rows), rows => zeroTarget);
        Assert.Equal(new[] { 0, 1 }, r.Passed);
        var err = loss.WeightedSquaredError(loss.EstimateFlows(videos), zeroTarget).ToArray();
        // sigma 1: w_ls = 0.5, lambda = 2; sigma 0.25: w_ls = 1/17, lambda = 17 -> w lambda = 1 for every sigma
        double expected = ((1 - 0.5) * 1 + 0.5 * 2 * err[0] + (1 - 1.0 / 17) * 2 + err[1]) / 2;
        Assert.Equal(expected, r.Loss.Item(), 3);
    }

    [Fact]
    public void IdenticalVideosGiveZeroLossWithTheRealEstimator()
    {
        var loss = new FlowLoss(new FlowLossOptions { Scale = 1, Estimator = TinyEstimator });
        var clip = MotionWorld.Generate(3, WorldSplit.Train, 5, 16, 16);
        var video = clip.Video.Reshape(1, 3, 5, 16, 16);
        foreach (var occlusion in new[] { clip.Occlusion.Reshape(1, 4, 16, 16), null })
        {
            var target = loss.EstimateTarget(video, occlusion);
            Assert.Equal(new[] { 1, 4, 2, 16, 16 }, target.Flow.Shape.ToArray());
            Assert.Equal(new[] { 1, 4, 16, 16 }, target.Occlusion.Shape.ToArray());
            Assert.True(target.Flow.ToArray().Any(v => Math.Abs(v) > 0.1f), "the clip should move");
            var l = loss.Compute(video.DetachedLeaf(), target, new[] { 0.3 });
            Assert.Equal(0f, l.Item());
        }
        // and a different video does not
        var other = MotionWorld.Generate(4, WorldSplit.Train, 5, 16, 16).Video.Reshape(1, 3, 5, 16, 16);
        Assert.True(loss.Compute(other, loss.EstimateTarget(video, null), new[] { 0.3 }).Item() > 0);
    }

    [Fact]
    public void WorldTargetsMatchTheWorldAndAreCached()
    {
        var loss = new FlowLoss(new FlowLossOptions { Target = FlowTargetSource.World, Estimator = TinyEstimator });
        var targets = new WorldFlowTargets(loss, 5, 16, 16, capacity: 1);
        var a = targets.Get(new long[] { 7, 2 }, WorldSplit.Train);
        Assert.Equal(new[] { 2, 4, 2, 16, 16 }, a.Flow.Shape.ToArray());
        var clip = MotionWorld.Generate(2, WorldSplit.Train, 5, 16, 16);
        Assert.Equal(clip.Flow.ToArray(), a.Flow.Narrow(0, 1, 1).ToArray());
        Assert.Equal(clip.Occlusion.ToArray(), a.Occlusion.Narrow(0, 1, 1).ToArray());
        Assert.Equal(2, targets.Computed);
        targets.Get(new long[] { 2 }, WorldSplit.Train);                     // the last one is still cached
        Assert.Equal(2, targets.Computed);
        targets.Get(new long[] { 7 }, WorldSplit.Train);                     // capacity 1: evicted
        Assert.Equal(3, targets.Computed);
    }
}
