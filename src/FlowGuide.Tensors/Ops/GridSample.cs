using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

/// <summary>What <see cref="Ops.GridSample"/> reads for sample positions outside the input.</summary>
public enum GridPadding
{
    /// <summary>Taps outside the input read 0 (torch padding_mode='zeros').</summary>
    Zeros,
    /// <summary>The pixel coordinate is clamped to [0, size - 1] before interpolation (torch padding_mode='border').</summary>
    Border,
}

public static partial class Ops
{
    /// <summary>
    /// Bilinear sampling of <paramref name="input"/> [N, C, H, W] at the points of <paramref name="grid"/> [N, Ho, Wo, 2],
    /// whose last axis is (x, y) normalised to [-1, 1] (x along W, y along H); the result is [N, C, Ho, Wo]. Matches
    /// torch.nn.functional.grid_sample(mode='bilinear'): with <paramref name="alignCorners"/> -1 and 1 are the centres of the
    /// corner pixels (pixel = (g + 1) / 2 * (size - 1)), without it they are the outer edges of the corner pixels
    /// (pixel = ((g + 1) * size - 1) / 2). Differentiable with respect to both input and grid (first order only); the grid
    /// gradient is zero where bilinear interpolation is not differentiable from the chosen side: on Border-clipped
    /// coordinates, including exactly at the clip limits, as in torch.
    /// </summary>
    public static Tensor GridSample(Tensor input, Tensor grid, bool alignCorners, GridPadding padding = GridPadding.Zeros)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"GridSample: input has shape {input.Shape}, expected rank 4 [N, C, H, W].");
        if (grid.Rank != 4 || grid.Shape.Dims[3] != 2)
            throw new ArgumentException($"GridSample: grid has shape {grid.Shape}, expected [N, Ho, Wo, 2] with (x, y) on the last axis.");
        int n = input.Shape.Dims[0], c = input.Shape.Dims[1], h = input.Shape.Dims[2], w = input.Shape.Dims[3];
        if (grid.Shape.Dims[0] != n)
            throw new ArgumentException($"GridSample: grid {grid.Shape} and input {input.Shape} have different batch sizes ({grid.Shape.Dims[0]} vs {n}).");
        if (h == 0 || w == 0)
            throw new ArgumentException($"GridSample: input {input.Shape} has an empty spatial axis; expected H and W >= 1.");
        int ho = grid.Shape.Dims[1], wo = grid.Shape.Dims[2];
        bool border = padding == GridPadding.Border;
        var o = Tensor.Empty(n, c, ho, wo);
        GridSampleKernels.Forward(input.Span, n, c, h, w, grid.Span, ho, wo, alignCorners, border, o.Span);
        return Autograd.Record(o, "GridSample", (g, needs) =>
        {
            Tensor? gi = null, gg = null;
            if (needs[0])
            {
                gi = Tensor.Zeros(input.Shape);
                GridSampleKernels.BackwardInput(g.Span, n, c, h, w, grid.Span, ho, wo, alignCorners, border, gi.Span);
            }
            if (needs[1])
            {
                gg = Tensor.Empty(grid.Shape);
                GridSampleKernels.BackwardGrid(g.Span, input.Span, n, c, h, w, grid.Span, ho, wo, alignCorners, border, gg.Span);
            }
            return new[] { gi, gg };
        }, input, grid);
    }

    /// <summary>
    /// Backward warping by a dense flow: out[n, :, y, x] = image[n, :, y + v, x + u] sampled bilinearly, where
    /// <paramref name="flow"/> [N, 2, H, W] holds (u, v) in pixels along (W, H) and <paramref name="image"/> is
    /// [N, C, H, W]. Built as a GridSample with alignCorners = true, so pixel centres map exactly; positions outside the
    /// image read 0 (<see cref="GridPadding.Zeros"/>) or the nearest edge (<see cref="GridPadding.Border"/>).
    /// Differentiable with respect to both image and flow.
    /// </summary>
    public static Tensor Warp(Tensor image, Tensor flow, GridPadding padding = GridPadding.Border)
    {
        if (image.Rank != 4)
            throw new ArgumentException($"Warp: image has shape {image.Shape}, expected rank 4 [N, C, H, W].");
        int n = image.Shape.Dims[0], h = image.Shape.Dims[2], w = image.Shape.Dims[3];
        if (flow.Rank != 4 || flow.Shape.Dims[0] != n || flow.Shape.Dims[1] != 2 || flow.Shape.Dims[2] != h || flow.Shape.Dims[3] != w)
            throw new ArgumentException($"Warp: flow has shape {flow.Shape}, expected [{n}, 2, {h}, {w}] (u, v in pixels) for image {image.Shape}.");
        // grid = (pixel + flow) * 2 / (size - 1) - 1; a size-1 axis has only one sample position, so its scale is 0.
        float sx = w > 1 ? 2f / (w - 1) : 0f, sy = h > 1 ? 2f / (h - 1) : 0f;
        var basis = Tensor.Empty(h, w, 2); // [H, W, 2]: the normalised coordinates of every pixel centre
        var bd = basis.Span;
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            bd[(y * w + x) * 2] = x * sx - 1f;
            bd[(y * w + x) * 2 + 1] = y * sy - 1f;
        }
        var scale = Tensor.FromArray(new[] { sx, sy }, 2);
        var grid = Add(Mul(Permute(flow, 0, 2, 3, 1), scale), basis); // [N, H, W, 2]
        return GridSample(image, grid, alignCorners: true, padding);
    }
}
