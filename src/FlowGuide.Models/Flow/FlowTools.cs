using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>Warping and consistency checks on dense flows [N, 2, H, W] of (u, v) in pixels.</summary>
public static class FlowTools
{
    /// <summary>
    /// Backward warping: out(x) = image(x + flow(x)), bilinear, for image [N, C, H, W] and flow [N, 2, H, W]. With the
    /// forward flow frame1 -> frame2, warping frame 2 gives frame 1's prediction. Differentiable in both arguments.
    /// Samples outside the image read the nearest edge (Border) or 0 (Zeros); see <see cref="InBoundsMask"/>.
    /// </summary>
    public static Tensor BackwardWarp(Tensor image, Tensor flow, GridPadding padding = GridPadding.Border)
    {
        CheckFlow("BackwardWarp", flow);
        if (image.Rank != 4 || image.Size(0) != flow.Size(0) || image.Size(2) != flow.Size(2) || image.Size(3) != flow.Size(3))
            throw new ArgumentException($"BackwardWarp: image has shape {image.Shape}, expected [{flow.Size(0)}, C, {flow.Size(2)}, {flow.Size(3)}] to match flow {flow.Shape}.");
        return Ops.Warp(image, flow, padding);
    }

    /// <summary>[N, 1, H, W]: 1 where x + flow(x) lies inside the image (pixel centres 0..W-1, 0..H-1), else 0.</summary>
    public static Tensor InBoundsMask(Tensor flow)
    {
        CheckFlow("InBoundsMask", flow);
        int n = flow.Size(0), h = flow.Size(2), w = flow.Size(3), plane = h * w;
        var m = Tensor.Empty(n, 1, h, w);
        var f = flow.Span; var d = m.Span;
        for (int b = 0; b < n; b++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    float tx = x + f[2 * b * plane + i], ty = y + f[(2 * b + 1) * plane + i];
                    d[b * plane + i] = tx >= 0 && tx <= w - 1 && ty >= 0 && ty <= h - 1 ? 1f : 0f;
                }
        return m;
    }

    /// <summary>
    /// Forward-backward consistency occlusion check (Sundaram et al. 2010; Meister et al. 2018): with the backward flow
    /// sampled at each pixel's forward target, b(x) = backward(x + forward(x)), a pixel is occluded where
    /// |forward + b|^2 &gt; <paramref name="alpha1"/> (|forward|^2 + |b|^2) + <paramref name="alpha2"/>. Returns
    /// [N, 1, H, W] with 1 for occluded pixels, 0 elsewhere (not differentiable). Targets outside the image count as
    /// occluded when <paramref name="outOfBoundsOccluded"/> is set.
    /// </summary>
    public static Tensor ForwardBackwardOcclusion(Tensor forward, Tensor backward, float alpha1 = 0.01f, float alpha2 = 0.5f, bool outOfBoundsOccluded = false)
    {
        CheckFlow("ForwardBackwardOcclusion", forward);
        if (backward.Shape != forward.Shape)
            throw new ArgumentException($"ForwardBackwardOcclusion: backward flow has shape {backward.Shape}, expected {forward.Shape} like the forward flow.");
        if (!(alpha1 >= 0) || !(alpha2 >= 0))
            throw new ArgumentException($"ForwardBackwardOcclusion: alpha1 = {alpha1} and alpha2 = {alpha2} must both be >= 0.");
        using var _ = GradMode.NoGrad();
        var b = Ops.Warp(backward, forward, GridPadding.Border); // [N, 2, H, W]
        var sum = forward.Add(b).Square().Sum(1, keepDim: true);
        var bound = forward.Square().Sum(1, keepDim: true).Add(b.Square().Sum(1, keepDim: true)).MulScalar(alpha1).AddScalar(alpha2);
        var occluded = sum.Gt(bound);
        if (!outOfBoundsOccluded) return occluded;
        return occluded.Maximum(InBoundsMask(forward).RSub(1f));
    }

    internal static void CheckFlow(string op, Tensor flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        if (flow.Rank != 4 || flow.Size(1) != 2)
            throw new ArgumentException($"{op}: flow has shape {flow.Shape}, expected [N, 2, H, W] holding (u, v) in pixels.");
    }
}
