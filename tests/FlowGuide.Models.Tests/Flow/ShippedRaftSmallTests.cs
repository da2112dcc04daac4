using FlowGuide.Models.Flow;
using FlowGuide.Tensors;
using Xunit.Abstractions;
using static FlowGuide.Models.Tests.Flow.FlowTestUtil;

namespace FlowGuide.Models.Tests.Flow;

/// <summary>The shipped weights in models/raft-small: they load and estimate a plausible flow.</summary>
public sealed class ShippedRaftSmallTests(ITestOutputHelper log)
{
    private static string WeightsPath() =>
        Path.Combine(FlowGuide.TestSupport.RepoPaths.RepoRoot, "models", "raft-small", "raft-small.safetensors");

    [Fact]
    public void ShippedWeightsLoadAsTheSmallConfiguration()
    {
        var path = WeightsPath();
        Assert.True(File.Exists(path), $"shipped weights {path} missing");
        Assert.True(new FileInfo(path).Length <= 10 << 20, "shipped weights exceed 10 MB");
        var m = RaftSmall.Load(path);
        Assert.Equal(RaftSmallConfig.Small.Serialize(), m.Config.Serialize());
        Assert.False(m.Training);
    }

    /// <summary>
    /// A smooth texture under an affine motion (up to ~4 px, 64x64): the estimate is finite and its interior EPE is well
    /// below that of predicting zero (a loose bound: a broken file or loader gives about the zero-flow error or NaN).
    /// </summary>
    [Fact]
    public void ShippedWeightsRecoverAnAffineMotion()
    {
        var m = RaftSmall.Load(WeightsPath());
        var tex = Texture(21, 64, 64, 1.5f).MulScalar(2f).AddScalar(-1f);
        var gt = Affine(64, 64, 0.03, -0.02, 0.02, 0.03, 2.5, -1.5);
        Tensor frame1, flow;
        using (GradMode.NoGrad())
        {
            frame1 = Ops.Warp(tex, gt); // frame-1 pixel x shows frame 2 (the texture) at x + gt(x)
            flow = m.Estimate(frame1, tex);
        }
        foreach (var v in flow.Span) Assert.True(float.IsFinite(v), "non-finite flow");
        double epe = InteriorEpe(flow, gt, 8), zero = InteriorEpe(Tensor.Zeros(1, 2, 64, 64), gt, 8);
        log.WriteLine($"shipped RaftSmall: interior EPE {epe:0.000} px, zero flow {zero:0.000} px");
        Assert.True(epe < 0.5 * zero, $"EPE {epe:0.000} px is not well below the zero-flow EPE {zero:0.000} px");
    }
}
