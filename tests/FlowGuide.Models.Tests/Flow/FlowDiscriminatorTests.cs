using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Flow;

public class FlowDiscriminatorTests
{
    [Theory]
    [InlineData(16, 16)] // the position table's own grid (4 x 4 tokens)
    [InlineData(8, 12)]  // a smaller, non-square grid
    [InlineData(30, 17)] // sides that are not multiples of the patch (edge-padded)
    [InlineData(64, 64)] // a larger grid
    [InlineData(1, 3)]   // less than one patch
    public void AnyResolutionGivesOneLogitPerFlow(int h, int w)
    {
        var d = new FlowDiscriminator(FlowDiscriminatorConfig.Tiny, new Rng(1));
        var flow = Tensor.Randn(new Rng(2), 3, 2, h, w);
        var logits = d.Forward(flow);
        Assert.Equal(new[] { 3 }, logits.Shape.ToArray());
        Assert.All(logits.ToArray(), x => Assert.True(float.IsFinite(x)));
        // each flow is scored on its own: the batch does not mix
        var alone = d.Forward(Ops.Narrow(flow, 0, 1, 1)).Item();
        Assert.Equal(logits.ToArray()[1], alone, 4);
        var p = d.Probability(flow).ToArray();
        Assert.All(p, x => Assert.InRange(x, 0f, 1f));
    }

    [Fact]
    public void GradientWithRespectToTheFlowMatchesFiniteDifferences()
    {
        var d = new FlowDiscriminator(FlowDiscriminatorConfig.Tiny, new Rng(3));
        d.Freeze();
        var flow = Tensor.Randn(new Rng(4), 2, 2, 10, 7); // padded and resized position table on the path
        var leaf = flow.DetachedLeaf();
        Tensor g;
        using (GradMode.EnableGrad()) g = Autograd.Grad(Ops.Sum(d.Forward(leaf)), new[] { leaf })[0];
        double Eval(Tensor x) { using var _ = GradMode.NoGrad(); return Ops.Sum(d.Forward(x)).Item(); }
        var rng = new Random(5);
        const float eps = 1e-2f;
        for (int k = 0; k < 24; k++)
        {
            int i = rng.Next(flow.Numel);
            var p = flow.Clone(); p.Span[i] += eps;
            var m = flow.Clone(); m.Span[i] -= eps;
            double fd = (Eval(p) - Eval(m)) / (2 * eps);
            Assert.True(Math.Abs(fd - g.Span[i]) <= 3e-2 * Math.Abs(fd) + 5e-4, $"element {i}: autograd {g.Span[i]}, finite difference {fd}");
        }
    }

    [Fact]
    public void SaveLoadRoundTripsWeightsConfigAndTrainingInfo()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fg-disc-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var d = new FlowDiscriminator(FlowDiscriminatorConfig.Tiny with { Layers = 2 }, new Rng(6))
            {
                TrainingInfo = new System.Text.Json.Nodes.JsonObject { ["flow"] = "classical" },
            };
            d.Save(dir);
            var back = FlowDiscriminator.Load(dir);
            Assert.Equal(d.Config, back.Config);
            Assert.Equal("classical", back.TrainingInfo?["flow"]?.GetValue<string>());
            Assert.All(back.Parameters(), p => Assert.False(p.RequiresGrad));
            var flow = Tensor.Randn(new Rng(7), 2, 2, 12, 12);
            Assert.Equal(d.Forward(flow).ToArray(), back.Forward(flow).ToArray());
            Assert.Throws<DirectoryNotFoundException>(() => FlowDiscriminator.Load(Path.Combine(dir, "nope")));
            File.WriteAllText(Path.Combine(dir, FlowDiscriminator.ConfigFileName), "{\"patch_size\": 4}");
            Assert.Contains("width", Assert.Throws<InvalidDataException>(() => FlowDiscriminator.Load(dir)).Message);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BadInputsThrowNamingTheShape()
    {
        var d = new FlowDiscriminator(FlowDiscriminatorConfig.Tiny, new Rng(1));
        Assert.Contains("[B, 2, H, W]", Assert.Throws<ArgumentException>(() => d.Forward(Tensor.Zeros(1, 3, 8, 8))).Message);
        Assert.Throws<ArgumentException>(() => new FlowDiscriminator(FlowDiscriminatorConfig.Tiny with { Heads = 3 }, null));
        Assert.InRange(new FlowDiscriminator(FlowDiscriminatorConfig.Small, null).ParameterCount, 700_000, 1_000_000);
    }
}
