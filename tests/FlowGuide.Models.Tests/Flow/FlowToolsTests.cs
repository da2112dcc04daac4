using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Flow;

public class FlowToolsTests
{
    [Fact]
    public void WheelHasTheStandard55Colours()
    {
        Assert.Equal(55, FlowVisualization.WheelSize);
        Assert.Equal(((byte)255, (byte)0, (byte)0), FlowVisualization.WheelColor(0));     // red
        Assert.Equal(((byte)255, (byte)255, (byte)0), FlowVisualization.WheelColor(15));  // yellow
        Assert.Equal(((byte)0, (byte)255, (byte)0), FlowVisualization.WheelColor(21));    // green
        Assert.Equal(((byte)0, (byte)255, (byte)255), FlowVisualization.WheelColor(25));  // cyan
        Assert.Equal(((byte)0, (byte)0, (byte)255), FlowVisualization.WheelColor(36));    // blue
        Assert.Equal(((byte)255, (byte)0, (byte)255), FlowVisualization.WheelColor(49));  // magenta
    }

    [Fact]
    public void DirectionsGetTheirMiddleburyColours()
    {
        var right = FlowVisualization.Encode(1, 0);
        Assert.True(right.R == 255 && right.G < 10 && right.B < 60, $"right {right}");      // red
        var down = FlowVisualization.Encode(0, 1);
        Assert.True(down.R == 255 && down.G > 100 && down.B < 10, $"down {down}");          // orange-yellow
        var left = FlowVisualization.Encode(-1, 0);
        Assert.True(left.R < 10 && left.G > 150 && left.B > 150, $"left {left}");           // cyan
        var up = FlowVisualization.Encode(0, -1);
        Assert.True(up.B == 255 && up.G < 10 && up.R > 50 && up.R < 130, $"up {up}");                  // blue-violet
        Assert.Equal(((byte)255, (byte)255, (byte)255), FlowVisualization.Encode(0, 0));    // white
        var half = FlowVisualization.Encode(0.5, 0);
        Assert.True(half.R == 255 && half.G > 100 && half.G < 140, $"half {half}");         // desaturated red
    }

    [Fact]
    public void ToRgbNormalisesAndBlacksOutUnknown()
    {
        var f = Tensor.Zeros(1, 2, 1, 3);
        f.Span[0] = 4f;          // pixel 0: (4, 0) the largest: fully saturated red
        f.Span[1] = 2f;          // pixel 1: half
        f.Span[2] = 1e10f;       // pixel 2: unknown
        var rgb = FlowVisualization.ToRgb(f);
        Assert.Equal(FlowVisualization.Encode(1, 0), (rgb[0], rgb[1], rgb[2]));
        Assert.Equal(FlowVisualization.Encode(0.5, 0), (rgb[3], rgb[4], rgb[5]));
        Assert.Equal(new byte[] { 0, 0, 0 }, rgb[6..9]);
        var fixedMax = FlowVisualization.ToRgb(f, maxMagnitude: 2f);
        Assert.Equal(FlowVisualization.Encode(1, 0), (fixedMax[3], fixedMax[4], fixedMax[5]));
        var beyond = FlowVisualization.Encode(2, 0);
        Assert.Equal(beyond, (fixedMax[0], fixedMax[1], fixedMax[2]));
        Assert.Throws<ArgumentException>(() => FlowVisualization.ToRgb(Tensor.Zeros(1, 3, 2, 2)));
    }

    /// <summary>A 10x10 square translating by (+4, +2) over a static background: forward flow (4, 2) on the square.</summary>
    private static (Tensor Fw, Tensor Bw) SquareFlows(int size = 32)
    {
        var fw = Tensor.Zeros(1, 2, size, size);
        var bw = Tensor.Zeros(1, 2, size, size);
        int plane = size * size;
        for (int y = 10; y < 20; y++)
            for (int x = 10; x < 20; x++)
            {
                fw.Span[y * size + x] = 4; fw.Span[plane + y * size + x] = 2;
                int y2 = y + 2, x2 = x + 4; // where the square is in frame 2
                bw.Span[y2 * size + x2] = -4; bw.Span[plane + y2 * size + x2] = -2;
            }
        return (fw, bw);
    }

    [Fact]
    public void ForwardBackwardCheckFindsTheUncoveredBackground()
    {
        int size = 32;
        var (fw, bw) = SquareFlows(size);
        var occ = FlowTools.ForwardBackwardOcclusion(fw, bw);
        Assert.Equal(new Shape(1, 1, size, size), occ.Shape);
        // Background pixels of frame 1 that the square covers in frame 2 (inside the moved square, outside the original)
        // are occluded; the square itself and far background are not.
        Assert.Equal(0f, occ[0, 0, 15, 15]);
        Assert.Equal(0f, occ[0, 0, 2, 2]);
        Assert.Equal(0f, occ[0, 0, 25, 5]);
        int occluded = 0, expected = 0;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                bool inOld = y >= 10 && y < 20 && x >= 10 && x < 20, inNew = y >= 12 && y < 22 && x >= 14 && x < 24;
                bool covered = inNew && !inOld;
                if (covered) { expected++; Assert.Equal(1f, occ[0, 0, y, x]); }
                if (occ[0, 0, y, x] == 1f) occluded++;
            }
        Assert.Equal(expected, occluded);
    }

    [Fact]
    public void OutOfBoundsTargetsCanCountAsOccluded()
    {
        var fw = Tensor.Zeros(1, 2, 4, 4);
        fw.Span[3] = 2f; // pixel (3, 0) moves right out of the image
        var occ = FlowTools.ForwardBackwardOcclusion(fw, Tensor.Zeros(1, 2, 4, 4), alpha1: 0.01f, alpha2: 10f, outOfBoundsOccluded: true);
        Assert.Equal(1f, occ.Span[3]);
        Assert.Equal(1f, occ.Span.ToArray().Sum());
        Assert.Equal(0f, FlowTools.InBoundsMask(fw).Span[3]);
    }

    [Fact]
    public void BackwardWarpMovesContent()
    {
        var img = Tensor.Arange(0, 16).Reshape(1, 1, 4, 4);
        var f = Tensor.Zeros(1, 2, 4, 4);
        for (int i = 0; i < 16; i++) f.Span[i] = 1f; // u = 1: out(x) = img(x + 1)
        var o = FlowTools.BackwardWarp(img, f);
        Assert.Equal(1f, o[0, 0, 0, 0]);
        Assert.Equal(6f, o[0, 0, 1, 1]);
        Assert.Equal(3f, o[0, 0, 0, 3]); // border
        Assert.Throws<ArgumentException>(() => FlowTools.BackwardWarp(Tensor.Zeros(1, 1, 4, 5), f));
    }

    [Fact]
    public void MetricsCountOnlyKnownAndMaskedPixels()
    {
        var gt = Tensor.Zeros(1, 2, 1, 4);
        var est = Tensor.Zeros(1, 2, 1, 4);
        est.Span[0] = 3; est.Span[4] = 4;   // pixel 0: error 5
        est.Span[1] = 0.5f;                  // pixel 1: error 0.5
        gt.Span[2] = 1e10f;                  // pixel 2: unknown
        var mask = Tensor.Ones(1, 1, 1, 4);
        mask.Span[3] = 0;                    // pixel 3: masked out
        var acc = FlowMetrics.Evaluate(est, gt, mask);
        Assert.Equal(2, acc.ValidPixels);
        Assert.Equal(2.75, acc.Epe, 6);
        Assert.Equal(0.5, acc.Within1Px, 6);
        Assert.Equal(0.5, acc.OutlierRate, 6);
        Assert.Equal((5 + 0.5 + 0) / 3, FlowMetrics.EndpointError(est, gt), 6);
        Assert.True(double.IsNaN(FlowMetrics.EndpointError(est, gt, Tensor.Zeros(1, 1, 1, 4))));
        var map = FlowMetrics.EndpointErrorMap(est, Tensor.Zeros(1, 2, 1, 4));
        Assert.Equal(5f, map.Span[0], 4);
        Assert.Throws<ArgumentException>(() => FlowMetrics.Evaluate(est, Tensor.Zeros(1, 2, 1, 5)));
    }
}
