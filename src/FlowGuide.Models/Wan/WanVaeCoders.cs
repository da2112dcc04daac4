using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>
/// Wan VAE encoder (diffusers <c>WanEncoder3d</c>): causal <c>conv_in</c>, a flat <c>down_blocks</c> list of residual
/// blocks (attention where the scale is in attn_scales) and resamplers, <c>mid_block</c>, RMS <c>norm_out</c>, SiLU and
/// <c>conv_out</c> to 2·z_dim channels (mean and log-variance).
/// </summary>
public sealed class WanVaeEncoder : Module
{
    public WanVaeEncoder(WanVaeConfig config, Rng rng)
    {
        int[] dims = new[] { config.BaseDim }.Concat(config.DimMult.Select(m => config.BaseDim * m)).ToArray();
        ConvIn = Child("conv_in", new Conv3d(config.InChannels, dims[0], new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }, causal: true));

        var blocks = new List<Module>();
        double scale = 1.0;
        int last = config.DimMult.Length - 1;
        for (int i = 0; i <= last; i++)
        {
            int inDim = dims[i], outDim = dims[i + 1];
            for (int r = 0; r < config.NumResBlocks; r++)
            {
                blocks.Add(new WanResidualBlock(inDim, outDim, config.Dropout, rng));
                if (config.AttnScales.Contains(scale)) blocks.Add(new WanAttentionBlock(outDim, rng));
                inDim = outDim;
            }
            if (i != last)
            {
                var mode = config.TemperalDownsample[i] ? WanResampleMode.Downsample3d : WanResampleMode.Downsample2d;
                blocks.Add(new WanResample(outDim, mode, rng));
                scale /= 2.0;
            }
        }
        DownBlocks = Child("down_blocks", new ModuleList<Module>(blocks));

        int top = dims[^1];
        MidBlock = Child("mid_block", new WanMidBlock(top, config.Dropout, rng));
        NormOut = Child("norm_out", new WanRmsNorm(top, images: false));
        ConvOut = Child("conv_out", new Conv3d(top, 2 * config.ZDim, new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }, causal: true));
    }

    public Conv3d ConvIn { get; }
    public ModuleList<Module> DownBlocks { get; }
    public WanMidBlock MidBlock { get; }
    public WanRmsNorm NormOut { get; }
    public Conv3d ConvOut { get; }

    /// <summary>x [B, C, T, H, W] -> [B, 2z, T', H', W']; with a cache, one chunk of a chunked run.</summary>
    internal Tensor Forward(Tensor x, WanVaeCache? cache)
    {
        // 1. stem
        x = WanVaeCache.CausalConv(ConvIn, x, cache);
        // 2. down stages
        foreach (var block in DownBlocks.Items)
        {
            x = block switch
            {
                WanResidualBlock r => r.Forward(x, cache),
                WanAttentionBlock a => a.Forward(x),
                WanResample s => s.Forward(x, cache),
                _ => throw new InvalidOperationException($"WanVaeEncoder: unexpected block {block.GetType().Name}."),
            };
        }
        // 3. middle
        x = MidBlock.Forward(x, cache);
        // 4. head
        return WanVaeCache.CausalConv(ConvOut, NormOut.Forward(x).Silu(), cache);
    }
}

/// <summary>
/// Wan VAE decoder (diffusers <c>WanDecoder3d</c>): causal <c>conv_in</c> from z_dim, <c>mid_block</c>, <c>up_blocks</c>
/// (each after the first takes half the previous width, because Wan2.1's upsamplers halve the channels), RMS
/// <c>norm_out</c>, SiLU and <c>conv_out</c> to RGB.
/// </summary>
public sealed class WanVaeDecoder : Module
{
    public WanVaeDecoder(WanVaeConfig config, Rng rng)
    {
        int baseDim = config.DecoderBaseDim ?? config.BaseDim;
        var mult = config.DimMult;
        int[] dims = new[] { baseDim * mult[^1] }.Concat(mult.Reverse().Select(m => baseDim * m)).ToArray();
        bool[] temporalUp = config.TemperalDownsample.Reverse().ToArray();

        ConvIn = Child("conv_in", new Conv3d(config.ZDim, dims[0], new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }, causal: true));
        MidBlock = Child("mid_block", new WanMidBlock(dims[0], config.Dropout, rng));

        var blocks = new List<WanUpBlock>();
        int last = mult.Length - 1;
        for (int i = 0; i <= last; i++)
        {
            int inDim = i > 0 ? dims[i] / 2 : dims[i];
            WanResampleMode? mode = i == last ? null : temporalUp[i] ? WanResampleMode.Upsample3d : WanResampleMode.Upsample2d;
            blocks.Add(new WanUpBlock(inDim, dims[i + 1], config.NumResBlocks, config.Dropout, mode, rng));
        }
        UpBlocks = Child("up_blocks", new ModuleList<WanUpBlock>(blocks));

        NormOut = Child("norm_out", new WanRmsNorm(dims[^1], images: false));
        ConvOut = Child("conv_out", new Conv3d(dims[^1], config.OutChannels, new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }, causal: true));
    }

    public Conv3d ConvIn { get; }
    public WanMidBlock MidBlock { get; }
    public ModuleList<WanUpBlock> UpBlocks { get; }
    public WanRmsNorm NormOut { get; }
    public Conv3d ConvOut { get; }

    /// <summary>z [B, z, T', H', W'] -> [B, 3, T, H, W]; with a cache, one chunk of a chunked run.</summary>
    internal Tensor Forward(Tensor x, WanVaeCache? cache)
    {
        // 1. stem and middle
        x = WanVaeCache.CausalConv(ConvIn, x, cache);
        x = MidBlock.Forward(x, cache);
        // 2. up stages
        foreach (var block in UpBlocks.Items) x = block.Forward(x, cache);
        // 3. head
        return WanVaeCache.CausalConv(ConvOut, NormOut.Forward(x).Silu(), cache);
    }
}
