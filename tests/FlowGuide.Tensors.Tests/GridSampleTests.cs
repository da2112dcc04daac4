using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

public class GridSampleTests
{
    // Reference values from torch 1.13 (CPU, float32):
    //   inp  = torch.tensor([((i * 7) % 11) / 5 - 1 for i in range(24)]).reshape(1, 2, 3, 4)
    //   grid = torch.tensor([-1.1, -0.9, -0.37, 0.21, 0.05, -0.55, 0.93, 0.71, 1.2, 0.4, 0.61, 1.05]).reshape(1, 2, 3, 2)
    //   wt   = torch.tensor([((i * 5) % 7) / 3 - 1 for i in range(12)]).reshape(1, 2, 2, 3)
    //   out = F.grid_sample(inp, grid, mode='bilinear', padding_mode=..., align_corners=...); (out * wt).sum().backward()
    private static readonly float[] Grid = { -1.1f, -0.9f, -0.37f, 0.21f, 0.05f, -0.55f, 0.93f, 0.71f, 1.2f, 0.4f, 0.61f, 1.05f };

    public static TheoryData<bool, GridPadding, float[], float[], float[]> TorchCases => new()
    {
        {
            true, GridPadding.Zeros,
            new[] { -0.7479999f, -0.3294100f, 0.0592500f, -0.6260000f, -0.2799999f, -0.5054000f, 0.2550000f, 0.5384099f, 0.3757500f, -0.0280100f, -0.2240000f, -0.3980501f },
            new[] { -0.7649999f, 0.0000000f, 0.0000000f, 0.0000000f, -0.0560333f, 0.4977000f, -0.0203000f, 0.2469666f, 0.0077000f, 0.1323000f, 0.1355500f, -0.0122167f, -0.2550000f, 0.1558334f, 0.2108333f, 0.0000000f, -0.0717833f, -0.6190499f, 0.1725000f, -0.2799999f, -0.0115500f, -0.1984500f, 0.5557501f, 0.2075834f },
            new[] { 1.1700000f, -0.7366667f, -1.7449999f, 1.5983334f, 0.4100000f, -0.0433332f, 0.8000001f, 0.6666667f, 0.2799999f, -1.2599996f, 1.6150000f, 0.5963334f }
        },
        {
            true, GridPadding.Border,
            new[] { -0.8800000f, -0.3294100f, 0.0592500f, -0.6260000f, -0.4000000f, -0.5319999f, 0.3000000f, 0.5384099f, 0.3757500f, -0.0280100f, -0.3200000f, -0.4190001f },
            new[] { -0.9000000f, 0.0000000f, 0.0000000f, 0.0000000f, -0.0710334f, 0.4977000f, -0.0203000f, 0.4269667f, 0.0077000f, 0.1323000f, 0.1453000f, 0.1147000f, -0.3000000f, 0.1558334f, 0.2108333f, 0.0000000f, -0.0767833f, -0.6190499f, 0.1725000f, -0.4000000f, -0.0115500f, -0.1984500f, 0.5850000f, 0.1483333f },
            new[] { -0.0000000f, -0.8666667f, -1.7449999f, 1.5983334f, 0.4100000f, -0.0433332f, 0.8000001f, 0.6666667f, 0.0000000f, -1.8000001f, 1.7000000f, 0.0000000f }
        },
        {
            false, GridPadding.Zeros,
            new[] { -0.1950000f, -0.1963200f, -0.0240000f, -0.5983998f, -0.0599999f, -0.3298002f, 0.0780000f, 0.3153200f, 0.4189999f, 0.2393599f, -0.0080000f, 0.0034000f },
            new[] { -0.1950000f, 0.0000000f, 0.0000000f, 0.0000000f, 0.1096000f, 0.3470666f, 0.0000000f, 0.0400000f, 0.0504000f, 0.1596000f, 0.0396667f, -0.2369332f, -0.0650000f, 0.2200001f, 0.3300000f, 0.0000000f, -0.1644000f, -0.4739333f, 0.0700000f, -0.0266666f, -0.0756000f, -0.2394000f, 0.1190000f, 0.2660002f },
            new[] { 1.1266667f, 0.3899999f, -1.5566664f, 1.3799999f, 1.3533335f, -0.1199998f, -1.2466667f, -0.6399999f, 1.0933330f, -0.2699997f, 0.9633337f, 0.3760000f }
        },
        {
            false, GridPadding.Border,
            new[] { -1.0000000f, -0.1963200f, -0.0240000f, -1.0000000f, -0.5999999f, -0.7760000f, 0.4000000f, 0.3153200f, 0.4189999f, 0.4000000f, -0.0800001f, 0.0080000f },
            new[] { -1.0000000f, 0.0000000f, 0.0000000f, 0.0000000f, 0.1096000f, 0.3470666f, 0.0000000f, 0.4000001f, 0.0504000f, 0.1596000f, 0.0933333f, 0.1733332f, -0.3333333f, 0.2200001f, 0.3300000f, 0.0000000f, -0.1644000f, -0.4739333f, 0.0700000f, -0.2666667f, -0.0756000f, -0.2394000f, 0.2800000f, 0.3200001f },
            new[] { -0.0000000f, -0.0000000f, -1.5566664f, 1.3799999f, 1.3533335f, -0.1199998f, -0.0000000f, -0.0000000f, 0.0000000f, -2.7000000f, 2.2666667f, 0.0000000f }
        },
    };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void MatchesTorchValuesAndGradients(bool alignCorners, GridPadding padding, float[] output, float[] gradInput, float[] gradGrid)
    {
        var inp = Leaf(Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (i * 7 % 11) / 5.0 - 1.0).ToArray(), 1, 2, 3, 4));
        var grid = Leaf(Tensor.FromArray(Grid, 1, 2, 3, 2));
        var wt = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => (i * 5 % 7) / 3.0 - 1.0).ToArray(), 1, 2, 2, 3);
        var o = Ops.GridSample(inp, grid, alignCorners, padding);
        AssertClose(output, o.Span, 1e-5f, 1e-6f, "output");
        Ops.Sum(o * wt).Backward();
        AssertClose(gradInput, inp.Grad!.Span, 1e-5f, 1e-6f, "grad input");
        AssertClose(gradGrid, grid.Grad!.Span, 1e-4f, 2e-6f, "grad grid");
    }

    [Theory]
    [InlineData(true, GridPadding.Zeros)]
    [InlineData(true, GridPadding.Border)]
    [InlineData(false, GridPadding.Zeros)]
    [InlineData(false, GridPadding.Border)]
    public void FastForwardMatchesScalarTwin(bool alignCorners, GridPadding padding)
    {
        foreach (var (c, h, w, ho, wo) in new[] { (3, 5, 7, 4, 6), (1, 1, 9, 3, 5), (2, 6, 1, 7, 3), (5, 1, 1, 2, 2) })
        {
            var input = Randn(h * 10 + w, 2, h, w, c).Permute(0, 3, 1, 2); // [2, C, H, W] from a layout op
            var grid = Uniform(c * 3 + ho, -1.4f, 1.4f, 2, ho, wo, 2);
            var gd = grid.Span;
            gd[0] = -1f; gd[1] = 1f; gd[2] = 1f; gd[3] = -1f; // exact corners and clip limits
            var o = Ops.GridSample(input, grid, alignCorners, padding);
            var expected = new float[o.Numel];
            GridSampleKernels.ForwardScalar(input.Span, 2, c, h, w, grid.Span, ho, wo, alignCorners, padding == GridPadding.Border, expected);
            AssertClose(expected, o.Span, 1e-5f, 1e-5f, $"C={c} H={h} W={w}");
        }
    }

    [Theory]
    [InlineData(true, GridPadding.Zeros)]
    [InlineData(true, GridPadding.Border)]
    [InlineData(false, GridPadding.Zeros)]
    [InlineData(false, GridPadding.Border)]
    public void GradCheckInputAndGrid(bool alignCorners, GridPadding padding)
    {
        var input = Leaf(Randn(11, 2, 3, 5, 6));
        var grid = Leaf(AwayFromKinks(Uniform(12, -1.15f, 1.15f, 2, 4, 3, 2), 5, 6, alignCorners));
        GradCheck(t => Ops.GridSample(t[0], t[1], alignCorners, padding), new[] { input, grid }, eps: 1e-3f, maxPerInput: 48);
    }

    /// <summary>
    /// Bilinear sampling has kinks at integer pixel coordinates (and Border at its clip limits, also integers): moves every
    /// grid coordinate whose pixel position is within 0.1 of an integer to 0.15 away, so finite differences stay on one side.
    /// </summary>
    private static Tensor AwayFromKinks(Tensor grid, int h, int w, bool alignCorners)
    {
        var g = grid.Span;
        for (int k = 0; k < g.Length; k++)
        {
            int size = k % 2 == 0 ? w : h;
            double p = alignCorners ? (g[k] + 1) / 2 * (size - 1) : ((g[k] + 1) * size - 1) / 2;
            double frac = p - Math.Floor(p);
            if (frac < 0.1) p += 0.15;
            else if (frac > 0.9) p -= 0.15;
            g[k] = (float)(alignCorners ? p * 2 / (size - 1) - 1 : (2 * p + 1) / size - 1);
        }
        return grid;
    }

    [Fact]
    public void GridGradientSkippedWhenOnlyInputNeedsIt()
    {
        var input = Leaf(Randn(1, 1, 2, 4, 4));
        var grid = Uniform(2, -1f, 1f, 1, 3, 3, 2);
        var g = Autograd.Grad(Ops.Sum(Ops.GridSample(input, grid, true)), new[] { input });
        Assert.Equal(input.Shape, g[0].Shape);
        Assert.Null(grid.Grad);
    }

    [Theory]
    [InlineData(GridPadding.Zeros)]
    [InlineData(GridPadding.Border)]
    public void WarpByIntegerTranslationShiftsTheImage(GridPadding padding)
    {
        var img = Randn(21, 2, 3, 6, 7);
        var flow = Tensor.Zeros(2, 2, 6, 7);
        var fd = flow.Span;
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 42; k++) { fd[(b * 2) * 42 + k] = 2f; fd[(b * 2 + 1) * 42 + k] = -1f; } // u = 2, v = -1
        var o = Ops.Warp(img, flow, padding);
        for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
        for (int y = 1; y < 6; y++)
        for (int x = 0; x < 5; x++)
            Assert.True(Math.Abs(img[b, c, y - 1, x + 2] - o[b, c, y, x]) < 1e-5f, $"({b},{c},{y},{x})");
        // Outside the image: Zeros reads 0, Border repeats the edge.
        float expectedTop = padding == GridPadding.Zeros ? 0f : img[0, 0, 0, 3];
        Assert.True(Math.Abs(expectedTop - o[0, 0, 0, 1]) < 1e-5f);
    }

    [Fact]
    public void ZeroFlowWarpIsIdentity()
    {
        var img = Randn(3, 1, 2, 5, 4);
        AssertClose(img, Ops.Warp(img, Tensor.Zeros(1, 2, 5, 4)), 1e-5f, 1e-5f);
    }

    [Theory]
    [InlineData(GridPadding.Zeros)]
    [InlineData(GridPadding.Border)]
    public void WarpGradCheckImageAndFlow(GridPadding padding)
    {
        var img = Leaf(Randn(31, 1, 2, 4, 5));
        var flow = Uniform(32, -1.7f, 1.7f, 1, 2, 4, 5);
        foreach (ref var f in flow.Span) // keep x + u and y + v away from integers, where bilinear has kinks
        {
            float frac = f - MathF.Floor(f);
            if (frac < 0.1f) f += 0.15f; else if (frac > 0.9f) f -= 0.15f;
        }
        Leaf(flow);
        GradCheck(t => Ops.Warp(t[0], t[1], padding), new[] { img, flow }, eps: 2e-3f, maxPerInput: 40);
    }

    [Fact]
    public void ShapeErrorsNameTheOpAndShapes()
    {
        var input = Randn(1, 1, 2, 4, 4);
        Assert.Contains("rank 4", Assert.Throws<ArgumentException>(() => Ops.GridSample(Randn(1, 2, 4, 4), Tensor.Zeros(1, 3, 3, 2), true)).Message);
        Assert.Contains("[N, Ho, Wo, 2]", Assert.Throws<ArgumentException>(() => Ops.GridSample(input, Tensor.Zeros(1, 3, 3, 3), true)).Message);
        Assert.Contains("batch", Assert.Throws<ArgumentException>(() => Ops.GridSample(input, Tensor.Zeros(2, 3, 3, 2), true)).Message);
        Assert.Contains("expected [1, 2, 4, 4]", Assert.Throws<ArgumentException>(() => Ops.Warp(input, Tensor.Zeros(1, 2, 4, 3))).Message);
    }

    [Theory]
    [InlineData(true, GridPadding.Zeros)]
    [InlineData(false, GridPadding.Border)]
    public void LargeSizesSplitAcrossThreads(bool alignCorners, GridPadding padding)
    {
        int n = 2, c = 4, h = 33, w = 47, ho = 40, wo = 50;
        var input = Randn(61, n, c, h, w);
        var grid = AwayFromKinks(Uniform(62, -1.1f, 1.1f, n, ho, wo, 2), h, w, alignCorners);
        var o = Ops.GridSample(input, grid, alignCorners, padding);
        var expected = new float[o.Numel];
        GridSampleKernels.ForwardScalar(input.Span, n, c, h, w, grid.Span, ho, wo, alignCorners, padding == GridPadding.Border, expected);
        AssertClose(expected, o.Span, 1e-5f, 1e-5f);
        // The output is linear in the input: the input gradient must be the exact adjoint.
        var x = Leaf(input.Clone());
        var gOut = Randn(63, n, c, ho, wo);
        var gx = Autograd.Grad(Ops.Sum(Ops.GridSample(x, grid, alignCorners, padding) * gOut), new[] { x })[0];
        double lhs = 0, rhs = 0;
        for (int i = 0; i < o.Numel; i++) lhs += (double)o.Span[i] * gOut.Span[i];
        for (int i = 0; i < input.Numel; i++) rhs += (double)input.Span[i] * gx.Span[i];
        Assert.True(Math.Abs(lhs - rhs) <= 1e-4 * (1 + Math.Abs(lhs)), $"adjoint: {lhs} vs {rhs}");
        GradCheck(t => Ops.GridSample(t[0], t[1], alignCorners, padding), new[] { Leaf(input.Clone()), Leaf(grid) }, eps: 1e-3f, maxPerInput: 24);
    }
}
