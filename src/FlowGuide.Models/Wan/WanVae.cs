using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>
/// The Wan2.1 causal video VAE (diffusers <c>AutoencoderKLWan</c>), parameter names equal to the keys of
/// <c>vae/diffusion_pytorch_model.safetensors</c>. Videos are [B, 3, F, H, W] in [-1, 1] with F = 1 + k·(temporal
/// factor) and H, W multiples of the spatial factor; latents are [B, z, 1 + k, H/s, W/s] in model space
/// (normalised with latents_mean / latents_std). Encoding runs frame 0 alone and then chunks of temporal-factor frames,
/// decoding one latent frame at a time, each causal conv carrying its last two input frames between chunks, so without
/// gradients memory is bounded by one chunk. With gradients on, the chunks stay linked through the cache and the whole
/// decode is differentiable.
/// </summary>
public sealed partial class WanVae : Module, IVideoAutoencoder
{
    private readonly Tensor _mean, _std; // [1, z, 1, 1, 1]

    public WanVae(WanVaeConfig config, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        rng ??= new Rng(0);
        Encoder = Child("encoder", new WanVaeEncoder(config, rng));
        QuantConv = Child("quant_conv", new Conv3d(2 * config.ZDim, 2 * config.ZDim, new[] { 1, 1, 1 }, rng, causal: true));
        PostQuantConv = Child("post_quant_conv", new Conv3d(config.ZDim, config.ZDim, new[] { 1, 1, 1 }, rng, causal: true));
        Decoder = Child("decoder", new WanVaeDecoder(config, rng));
        _mean = Tensor.FromArray(config.LatentsMean, 1, config.ZDim, 1, 1, 1);
        _std = Tensor.FromArray(config.LatentsStd, 1, config.ZDim, 1, 1, 1);
    }

    public WanVaeConfig Config { get; }
    public WanVaeEncoder Encoder { get; }
    public Conv3d QuantConv { get; }
    public Conv3d PostQuantConv { get; }
    public WanVaeDecoder Decoder { get; }

    int IVideoDecoder.LatentChannels => Config.ZDim;
    int IVideoDecoder.TemporalFactor => Config.TemporalFactor;
    int IVideoDecoder.SpatialFactor => Config.SpatialFactor;
    Tensor IVideoDecoder.Decode(Tensor latent) => Decode(latent);
    Tensor IVideoAutoencoder.Encode(Tensor video) => Encode(video);

    /// <summary>Raw latent z -> model space (z - mean) / std, per channel.</summary>
    public Tensor Normalize(Tensor z) => z.Sub(_mean).Div(_std);

    /// <summary>Model-space latent -> raw latent z = z_model · std + mean, per channel.</summary>
    public Tensor Denormalize(Tensor zModel) => zModel.Mul(_std).Add(_mean);

    /// <summary>
    /// Encodes a video [B, 3, F, H, W] in [-1, 1] to its deterministic model-space latent (the posterior mean, normalised).
    /// <paramref name="chunked"/> false runs the whole clip through each layer at once (same result, more memory).
    /// </summary>
    public Tensor Encode(Tensor video, bool chunked = true) => Normalize(EncodeDistribution(video, chunked).Mean);

    /// <summary>Encodes and draws z = mean + exp(logvar / 2) · ε with ε from <paramref name="rng"/>; returns it in model space.</summary>
    public Tensor EncodeSample(Tensor video, Rng rng, bool chunked = true) => Normalize(EncodeDistribution(video, chunked).Sample(rng));

    /// <summary>The diagonal Gaussian posterior in raw latent space (before latents_mean / latents_std normalisation).</summary>
    public WanVaeLatentDistribution EncodeDistribution(Tensor video, bool chunked = true)
    {
        CheckVideo(video);
        int frames = video.Size(2), tf = Config.TemporalFactor;
        Tensor h;
        if (!chunked) h = Encoder.Forward(video, null);
        else
        {
            // frame 0 alone, then chunks of tf frames, the cache linking them
            int chunks = 1 + (frames - 1) / tf;
            h = Ops.Concat(RunChunks(video, chunks, (x, cache, i) =>
                Encoder.Forward(i == 0 ? x.Narrow(2, 0, 1) : x.Narrow(2, 1 + tf * (i - 1), tf), cache)).ToList(), 2);
        }
        var moments = QuantConv.Forward(h);                                                 // [B, 2z, F', H', W']
        int z = Config.ZDim;
        return new WanVaeLatentDistribution(moments.Narrow(1, 0, z), moments.Narrow(1, z, z));
    }

    /// <summary>
    /// Decodes a model-space latent [B, z, F', H', W'] to a video [B, 3, 1 + (F' - 1)·tf, H'·s, W'·s], clamped to [-1, 1]
    /// like diffusers unless <paramref name="clamp"/> is false (the clamp passes no gradient where it saturates).
    /// </summary>
    public Tensor Decode(Tensor latent, bool clamp = true, bool chunked = true)
    {
        if (chunked) return Ops.Concat(DecodeChunks(latent, clamp).ToList(), 2);
        CheckLatent(latent);
        var x = Decoder.Forward(PostQuantConv.Forward(Denormalize(latent)), null);
        return clamp ? x.Clamp(-1f, 1f) : x;
    }

    /// <summary>
    /// Decodes latent frame by latent frame and yields each piece of video as soon as it is ready: 1 frame for latent
    /// frame 0, tf frames for each later one. Without gradients, only one chunk's activations (plus the small per-conv
    /// cache) are alive at a time, so a caller that writes frames out as they come never holds the whole video.
    /// </summary>
    public IEnumerable<Tensor> DecodeChunks(Tensor latent, bool clamp = true)
    {
        CheckLatent(latent);
        var z = PostQuantConv.Forward(Denormalize(latent));                                // [B, z, F', H', W']
        foreach (var piece in RunChunks(z, z.Size(2), (x, cache, i) => Decoder.Forward(x.Narrow(2, i, 1), cache)))
            yield return clamp ? piece.Clamp(-1f, 1f) : piece;
    }

    /// <summary>
    /// Runs <paramref name="chunk"/> for chunks 0..count-1 with one shared cache. When no gradient is being recorded, each
    /// chunk runs in its own <see cref="TensorScope"/> that keeps only the chunk output and the cache, so intermediate
    /// buffers go back to the pool at once.
    /// </summary>
    private IEnumerable<Tensor> RunChunks(Tensor input, int count, Func<Tensor, WanVaeCache, int, Tensor> chunk)
    {
        bool recording = GradMode.IsEnabled && (input.RequiresGrad || Parameters().Any(p => p.RequiresGrad));
        var cache = new WanVaeCache(ownsTensors: !recording);
        for (int i = 0; i < count; i++)
        {
            cache.BeginChunk();
            Tensor y;
            if (recording) y = chunk(input, cache, i);
            else
            {
                using var scope = new TensorScope();
                y = chunk(input, cache, i);
                scope.Keep(cache.Tensors.Append(y).ToArray());
            }
            yield return y;
        }
        cache.Clear();
    }

    private void CheckVideo(Tensor video)
    {
        ArgumentNullException.ThrowIfNull(video);
        int tf = Config.TemporalFactor, s = Config.SpatialFactor;
        if (video.Rank != 5 || video.Size(1) != Config.InChannels)
            throw new ArgumentException($"WanVae.Encode: video must be [B, {Config.InChannels}, F, H, W], got {video.Shape}.", nameof(video));
        int f = video.Size(2), h = video.Size(3), w = video.Size(4);
        if (f < 1 || (f - 1) % tf != 0)
            throw new ArgumentException($"WanVae.Encode: video {video.Shape} has {f} frames; the frame count must be 1 + k·{tf} (e.g. {1 + tf}, {1 + 2 * tf}, {1 + 4 * tf}).", nameof(video));
        if (h == 0 || w == 0 || h % s != 0 || w % s != 0)
            throw new ArgumentException($"WanVae.Encode: video {video.Shape} has size {h}x{w}; height and width must be positive multiples of {s}.", nameof(video));
    }

    private void CheckLatent(Tensor latent)
    {
        ArgumentNullException.ThrowIfNull(latent);
        if (latent.Rank != 5 || latent.Size(1) != Config.ZDim || latent.Size(2) < 1 || latent.Size(3) < 1 || latent.Size(4) < 1)
            throw new ArgumentException($"WanVae.Decode: latent must be [B, {Config.ZDim}, F', H', W'] with non-empty F', H', W', got {latent.Shape}.", nameof(latent));
    }
}

/// <summary>
/// The encoder's diagonal Gaussian posterior in raw latent space: <see cref="Mean"/> and <see cref="LogVar"/>, each
/// [B, z, F', H', W']. The log-variance is clamped to [-30, 20] when sampling, as diffusers does.
/// </summary>
public sealed record WanVaeLatentDistribution(Tensor Mean, Tensor LogVar)
{
    /// <summary>Draws mean + exp(clamp(logvar) / 2) · ε with ε ~ N(0, I) from <paramref name="rng"/> (differentiable in both).</summary>
    public Tensor Sample(Rng rng)
    {
        var std = LogVar.Clamp(-30f, 20f).MulScalar(0.5f).Exp();
        return Mean.Add(std.Mul(Tensor.Randn(rng, Mean.Shape.ToArray())));
    }
}
