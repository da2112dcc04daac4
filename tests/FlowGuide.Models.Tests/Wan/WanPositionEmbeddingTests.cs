using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Wan;

/// <summary>FlowGuide's optional absolute-position embedding (<see cref="WanTransformerConfig.PositionFrequencies"/>).</summary>
public class WanPositionEmbeddingTests : IDisposable
{
    private static readonly WanTransformerConfig Plain = WanTransformerConfig.Tiny;
    private static readonly WanTransformerConfig WithPositions = Plain with { PositionFrequencies = 3 };
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-posemb-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private static (Tensor Latent, Tensor Timestep, Tensor Text) Inputs(int seed, bool constant = false)
    {
        var rng = new Rng((ulong)seed);
        var latent = constant ? Tensor.Full(0.7f, 1, Plain.InChannels, 3, 4, 4) : Tensor.Randn(rng, 1, Plain.InChannels, 3, 4, 4);
        return (latent, Tensor.FromArray(new[] { 500f }, 1), Tensor.Randn(rng, 1, 5, Plain.TextDim));
    }

    private static Tensor Run(WanTransformer3D m, (Tensor Latent, Tensor Timestep, Tensor Text) x)
    {
        using var _ = GradMode.NoGrad();
        return m.Forward(x.Latent, x.Timestep, x.Text);
    }

    [Fact]
    public void FeaturesAreSinAndCosOfTheNormalisedFrameRowAndColumn()
    {
        var p = WanTransformer3D.PositionFeatures(5, 2, 3, 2); // [30, 12]
        Assert.Equal(new[] { 30, 12 }, p.Shape.ToArray());
        float At(int frame, int row, int col, int feature) => p.Span[((frame * 2 + row) * 3 + col) * 12 + feature];
        // frame axis: features 0..3 = sin(pi u), sin(2 pi u), cos(pi u), cos(2 pi u) with u = frame / 4
        Assert.Equal(0f, At(0, 0, 0, 0), 6);
        Assert.Equal(1f, At(0, 0, 0, 2), 6);
        Assert.Equal(MathF.Sin(MathF.PI * 0.25f), At(1, 1, 2, 0), 5);
        Assert.Equal(MathF.Cos(2 * MathF.PI * 0.75f), At(3, 0, 1, 3), 5);
        Assert.Equal(-1f, At(4, 0, 0, 2), 6);
        // row axis (2 rows: u = 0, 1) and column axis (3 columns: u = 0, 0.5, 1)
        Assert.Equal(-1f, At(2, 1, 0, 6), 6);
        Assert.Equal(1f, At(2, 0, 1, 8), 6);
        Assert.Equal(-1f, At(2, 0, 1, 11), 6);
        Assert.Throws<ArgumentException>(() => WanTransformer3D.PositionFeatures(0, 1, 1, 2));
    }

    [Fact]
    public void AFreshEmbeddingLeavesTheOutputUnchanged()
    {
        var plain = new WanTransformer3D(Plain, new Rng(3));
        var extended = new WanTransformer3D(WithPositions, new Rng(3));
        var report = extended.LoadStateDict(plain.StateDict(), strict: false);
        Assert.Equal(new[] { "flowguide_position_embedding.weight" }, report.Missing);
        Assert.True(extended.PositionEmbedding!.Weight.Span.ToArray().All(v => v == 0));
        var x = Inputs(1);
        Assert.Equal(Run(plain, x).Span.ToArray(), Run(extended, x).Span.ToArray());
    }

    [Fact]
    public void ItTellsTokensApartWhereRopeAloneCannot()
    {
        // a latent that is the same at every position: without absolute positions every token gets the same velocity
        var x = Inputs(2, constant: true);
        var plain = Run(new WanTransformer3D(Plain, new Rng(5)), x);
        Assert.True(SpreadAcrossTokens(plain) < 1e-4, $"plain model: spread {SpreadAcrossTokens(plain)}");
        var model = new WanTransformer3D(WithPositions, new Rng(5));
        var rng = new Rng(6);
        rng.FillNormal(model.PositionEmbedding!.Weight.Span);
        var positioned = Run(model, x);
        Assert.True(SpreadAcrossTokens(positioned) > 1e-2, $"with positions: spread {SpreadAcrossTokens(positioned)}");
    }

    /// <summary>
    /// Largest difference between any element of [1, C, F, H, W] and the same channel and place within the patch in the
    /// first token (the patch is (1, 2, 2): one token's output covers 2 x 2 pixels, which may differ among themselves).
    /// </summary>
    private static double SpreadAcrossTokens(Tensor v)
    {
        int c = v.Size(1), f = v.Size(2), h = v.Size(3), w = v.Size(4);
        double worst = 0;
        for (int ch = 0; ch < c; ch++)
            for (int t = 0; t < f; t++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        float here = v.Span[((ch * f + t) * h + y) * w + x], first = v.Span[(ch * f * h + y % 2) * w + x % 2];
                        worst = Math.Max(worst, Math.Abs(here - first));
                    }
        return worst;
    }

    [Fact]
    public void EmbeddingGradientMatchesFiniteDifferences()
    {
        var model = new WanTransformer3D(WithPositions, new Rng(7));
        var rng = new Rng(8);
        var w = model.PositionEmbedding!.Weight;
        rng.FillNormal(w.Span);
        var x = Inputs(3);
        var probe = Tensor.Randn(rng, 1, Plain.OutChannels, 3, 4, 4);
        double Loss()
        {
            using var _ = GradMode.NoGrad();
            var v = model.Forward(x.Latent, x.Timestep, x.Text).Span;
            double s = 0;
            for (int i = 0; i < v.Length; i++) s += (double)v[i] * probe.Span[i];
            return s;
        }
        var g = Autograd.Grad(Ops.Sum(Ops.Mul(model.Forward(x.Latent, x.Timestep, x.Text), probe)), new[] { w })[0].Span.ToArray();
        const float eps = 1e-2f;
        foreach (int i in new[] { 0, 5, 17, w.Numel / 2, w.Numel - 1 })
        {
            double numeric = FlowGuide.TestSupport.FiniteDifference.Central(w, i, eps, Loss);
            Assert.True(Math.Abs(numeric - g[i]) <= 5e-3 * Math.Abs(numeric) + 2e-3, $"weight {i}: autograd {g[i]}, finite difference {numeric}");
        }
    }

    [Fact]
    public void ConfigAndWeightsRoundTripAndWanConfigsStayAsTheyAre()
    {
        Assert.DoesNotContain("flowguide_position_frequencies", Plain.ToJson());
        Assert.Equal(0, WanTransformerConfig.FromJson(Plain.ToJson()).PositionFrequencies);
        Assert.Equal(WithPositions, WanTransformerConfig.FromJson(WithPositions.ToJson()));
        var bad = Assert.Throws<ArgumentException>(() => (Plain with { PositionFrequencies = -1 }).Validate());
        Assert.Contains("flowguide_position_frequencies", bad.Message);

        var model = new WanTransformer3D(WithPositions, new Rng(9));
        new Rng(10).FillNormal(model.PositionEmbedding!.Weight.Span);
        Assert.Equal(WanTransformer3D.ExpectedParameters(WithPositions).Select(p => (p.Name, string.Join(",", p.Shape))),
            model.NamedParameters().Select(p => (p.Key, string.Join(",", p.Value.Shape.ToArray()))));
        model.Save(_dir);
        var loaded = WanTransformer3D.Load(_dir);
        Assert.Equal(WithPositions, loaded.Config);
        var x = Inputs(4);
        Assert.Equal(Run(model, x).Span.ToArray(), Run(loaded, x).Span.ToArray());
    }
}
