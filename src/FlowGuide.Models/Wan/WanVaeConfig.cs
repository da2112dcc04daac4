using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlowGuide.Models.Wan;

/// <summary>
/// Hyper-parameters of the Wan2.1 causal video VAE (diffusers <c>AutoencoderKLWan</c>). JSON property names are the
/// diffusers <c>vae/config.json</c> keys (including the upstream spelling <c>temperal_downsample</c>), so a real
/// config file reads directly. Spatial compression is 2^(len(dim_mult) - 1); temporal compression is 2 to the number
/// of true entries in <see cref="TemperalDownsample"/>.
/// </summary>
public sealed record WanVaeConfig
{
    [JsonPropertyName("base_dim")] public int BaseDim { get; init; } = 96;

    /// <summary>Decoder width when it differs from the encoder's (diffusers <c>decoder_base_dim</c>); null means <see cref="BaseDim"/>.</summary>
    [JsonPropertyName("decoder_base_dim")] public int? DecoderBaseDim { get; init; }

    [JsonPropertyName("z_dim")] public int ZDim { get; init; } = 16;
    [JsonPropertyName("dim_mult")] public int[] DimMult { get; init; } = { 1, 2, 4, 4 };
    [JsonPropertyName("num_res_blocks")] public int NumResBlocks { get; init; } = 2;

    /// <summary>Encoder scales (1, 0.5, 0.25, ...) after whose residual blocks an attention block is inserted; empty for Wan2.1.</summary>
    [JsonPropertyName("attn_scales")] public double[] AttnScales { get; init; } = Array.Empty<double>();

    /// <summary>Per encoder stage (all but the last), whether it also halves the frame count; the decoder uses the reverse.</summary>
    [JsonPropertyName("temperal_downsample")] public bool[] TemperalDownsample { get; init; } = { false, true, true };

    [JsonPropertyName("dropout")] public double Dropout { get; init; }
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 3;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 3;

    /// <summary>Per-channel mean of raw latents: the model-space latent is (z - mean) / std.</summary>
    [JsonPropertyName("latents_mean")] public double[] LatentsMean { get; init; } = Wan21Mean;

    /// <summary>Per-channel standard deviation of raw latents (see <see cref="LatentsMean"/>).</summary>
    [JsonPropertyName("latents_std")] public double[] LatentsStd { get; init; } = Wan21Std;

    /// <summary>Wan2.2's residual variant; not supported here (must stay false).</summary>
    [JsonPropertyName("is_residual")] public bool IsResidual { get; init; }

    /// <summary>Wan2.2's pixel patchify; not supported here (must be null or 1).</summary>
    [JsonPropertyName("patch_size")] public int? PatchSize { get; init; }

    [JsonIgnore] public int SpatialFactor => 1 << (DimMult.Length - 1);
    [JsonIgnore] public int TemporalFactor => 1 << TemperalDownsample.Count(t => t);

    /// <summary>Latent frames for <paramref name="frames"/> video frames (1 + (F - 1) / temporal factor).</summary>
    public int LatentFrames(int frames) => 1 + (frames - 1) / TemporalFactor;

    /// <summary>Video frames decoded from <paramref name="latentFrames"/> latent frames (1 + (F' - 1) · temporal factor).</summary>
    public int VideoFrames(int latentFrames) => 1 + (latentFrames - 1) * TemporalFactor;

    // Wan2.1 latent statistics from diffusers' AutoencoderKLWan defaults (the released vae/config.json has the same values).
    private static readonly double[] Wan21Mean =
    {
        -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
    };

    private static readonly double[] Wan21Std =
    {
        2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
        3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
    };

    /// <summary>The released Wan2.1 VAE: 8x spatial, 4x temporal compression, 16 latent channels (about 127M parameters).</summary>
    public static WanVaeConfig Wan21 { get; } = new();

    /// <summary>
    /// A few-thousand-parameter VAE for tests: 4x spatial (dim_mult [1, 2, 2]) and 2x temporal compression, 4 latent
    /// channels; its two stages cover both the 3-D (time) and the 2-D-only resamplers.
    /// </summary>
    public static WanVaeConfig Tiny { get; } = new()
    {
        BaseDim = 8,
        ZDim = 4,
        DimMult = new[] { 1, 2, 2 },
        NumResBlocks = 1,
        TemperalDownsample = new[] { true, false },
        LatentsMean = new[] { 0.1, -0.2, 0.3, -0.05 },
        LatentsStd = new[] { 1.5, 0.8, 1.2, 2.0 },
    };

    /// <summary>
    /// The size of the project's own shipped VAE: 4x spatial and 4x temporal compression, 16 latent channels, base width 32,
    /// one residual block per stage. Latent statistics are identity until fitted on training latents.
    /// </summary>
    public static WanVaeConfig Small { get; } = new()
    {
        BaseDim = 32,
        ZDim = 16,
        DimMult = new[] { 1, 2, 4 },
        NumResBlocks = 1,
        TemperalDownsample = new[] { true, true },
        LatentsMean = new double[16],
        LatentsStd = Enumerable.Repeat(1.0, 16).ToArray(),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent field.</summary>
    public void Validate()
    {
        if (BaseDim <= 0 || ZDim <= 0 || NumResBlocks < 0 || InChannels <= 0 || OutChannels <= 0 || DecoderBaseDim is <= 0)
            throw new ArgumentException($"WanVaeConfig: base_dim ({BaseDim}), decoder_base_dim ({DecoderBaseDim}), z_dim ({ZDim}), in/out channels ({InChannels}/{OutChannels}) must be positive and num_res_blocks ({NumResBlocks}) non-negative.");
        if (DimMult is null || DimMult.Length == 0 || DimMult.Any(m => m <= 0))
            throw new ArgumentException("WanVaeConfig: dim_mult must be a non-empty list of positive multipliers.");
        if (TemperalDownsample is null || TemperalDownsample.Length != DimMult.Length - 1)
            throw new ArgumentException($"WanVaeConfig: temperal_downsample needs {DimMult.Length - 1} entries (one per downsampling stage), got {TemperalDownsample?.Length ?? 0}.");
        if (LatentsMean is null || LatentsStd is null || LatentsMean.Length != ZDim || LatentsStd.Length != ZDim)
            throw new ArgumentException($"WanVaeConfig: latents_mean and latents_std need z_dim = {ZDim} values each, got {LatentsMean?.Length ?? 0} and {LatentsStd?.Length ?? 0}.");
        if (LatentsStd.Any(s => !(s > 0)))
            throw new ArgumentException("WanVaeConfig: latents_std values must be positive.");
        if (IsResidual)
            throw new NotSupportedException("WanVaeConfig: is_residual = true (the Wan2.2 VAE) is not supported; only the Wan2.1 architecture is.");
        if (PatchSize is > 1)
            throw new NotSupportedException($"WanVaeConfig: patch_size = {PatchSize} (the Wan2.2 VAE) is not supported; only the Wan2.1 architecture is.");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>Writes the diffusers-style config.json text (with <c>_class_name</c> AutoencoderKLWan).</summary>
    public string ToJson()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(this, JsonOptions))!.AsObject();
        node.Insert(0, "_class_name", "AutoencoderKLWan");
        return node.ToJsonString(JsonOptions);
    }

    /// <summary>Parses a diffusers <c>vae/config.json</c>; unknown keys (<c>_class_name</c>, tiling options, ...) are ignored.</summary>
    public static WanVaeConfig FromJson(string json)
    {
        WanVaeConfig? c;
        try { c = JsonSerializer.Deserialize<WanVaeConfig>(json); }
        catch (JsonException e) { throw new ArgumentException($"WanVaeConfig: invalid config JSON ({e.Message}).", e); }
        if (c is null) throw new ArgumentException("WanVaeConfig: config JSON is null.");
        c.Validate();
        return c;
    }
}
