using FlowGuide.Media;
using FlowGuide.Metrics;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Cli.Eval;

/// <summary>
/// A contact sheet of a video's consecutive-frame flows: one Middlebury-coloured tile per frame pair (white = still,
/// hue = direction, saturation = speed), laid out in rows of ceil(sqrt(pairs)) tiles with a 1-pixel gray gutter, all
/// tiles normalised by the same largest magnitude so that speeds compare across the video.
/// </summary>
public static class FlowSheet
{
    /// <summary>Renders the sheet as interleaved RGB bytes; returns them with the sheet's width and height.</summary>
    public static (byte[] Rgb, int Width, int Height) Render(FlowPairs flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        if (flows.Count == 0) throw new ArgumentException("FlowSheet.Render: no flow pairs given; expected at least one.");
        int h = flows.Height, w = flows.Width, plane = h * w;
        float max = 0;
        foreach (var f in flows.Forward)
            for (int i = 0; i < plane; i++) max = Math.Max(max, MathF.Sqrt(f[i] * f[i] + f[plane + i] * f[plane + i]));
        if (!(max > 1e-3f)) max = 1e-3f;
        int cols = (int)Math.Ceiling(Math.Sqrt(flows.Count)), rows = (flows.Count + cols - 1) / cols;
        int sw = cols * w + (cols - 1), sh = rows * h + (rows - 1);
        var sheet = new byte[sw * sh * 3];
        Array.Fill(sheet, (byte)128);
        for (int k = 0; k < flows.Count; k++)
        {
            byte[] tile;
            using (GradMode.NoGrad())
            using (new TensorScope())
                tile = FlowVisualization.ToRgb(Tensor.FromArray(flows.Forward[k], 2, h, w), max);
            int ox = k % cols * (w + 1), oy = k / cols * (h + 1);
            for (int y = 0; y < h; y++)
                Buffer.BlockCopy(tile, y * w * 3, sheet, ((oy + y) * sw + ox) * 3, w * 3);
        }
        return (sheet, sw, sh);
    }

    /// <summary>Writes the sheet as a PNG (atomically).</summary>
    public static void Write(string path, FlowPairs flows)
    {
        var (rgb, width, height) = Render(flows);
        PngWriter.WriteRgb8(path, width, height, rgb);
    }
}
