using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlowGuide.Models.Video;

/// <summary>
/// Configuration of <see cref="CompactVae"/>, stored as <c>vae/config.json</c> with <c>_class_name</c>
/// <see cref="ClassName"/> so a model folder says which autoencoder it holds.
/// </summary>
public sealed record CompactVaeConfig
{
    public const string ClassName = "FlowGuideCompactVae";

    [JsonPropertyName("z_dim")] public int ZDim { get; init; } = 16;

    /// <summary>Video frames per latent frame after the first (frame 0 has a latent frame of its own).</summary>
    [JsonPropertyName("temporal_factor")] public int TemporalFactor { get; init; } = 4;

    /// <summary>Widths per resolution level, full resolution first; each level after the first halves H and W.</summary>
    [JsonPropertyName("channels")] public int[] Channels { get; init; } = { 48, 96, 128 };

    /// <summary>Residual blocks per level (encoder and decoder alike); the lowest level gets one more.</summary>
    [JsonPropertyName("num_res_blocks")] public int NumResBlocks { get; init; } = 1;

    [JsonPropertyName("latents_mean")] public double[] LatentsMean { get; init; } = new double[16];
    [JsonPropertyName("latents_std")] public double[] LatentsStd { get; init; } = Enumerable.Repeat(1.0, 16).ToArray();

    /// <summary>Pixels per latent pixel along H and W: 2^(levels - 1).</summary>
    [JsonIgnore] public int SpatialFactor => 1 << (Channels.Length - 1);

    /// <summary>The shipped model's autoencoder: 4x temporal, 4x spatial, 16 channels (17x64x64 video -> 16x5x16x16).</summary>
    public static CompactVaeConfig Small { get; } = new();

    /// <summary>A very small configuration for tests, with the Small layout (4x temporal, 4x spatial) and 4 channels.</summary>
    public static CompactVaeConfig Tiny { get; } = new()
    {
        ZDim = 4, TemporalFactor = 4, Channels = new[] { 8, 8, 12 }, NumResBlocks = 1,
        LatentsMean = new double[4], LatentsStd = new[] { 1.0, 1.0, 1.0, 1.0 },
    };

    /// <summary>Throws naming the first invalid field.</summary>
    public void Validate()
    {
        if (ZDim <= 0 || TemporalFactor <= 0 || NumResBlocks < 0)
            throw new ArgumentException($"CompactVaeConfig: z_dim ({ZDim}) and temporal_factor ({TemporalFactor}) must be positive, num_res_blocks ({NumResBlocks}) non-negative.");
        if (Channels is null || Channels.Length == 0 || Channels.Any(c => c <= 0))
            throw new ArgumentException("CompactVaeConfig: channels needs at least one positive width.");
        if (LatentsMean is null || LatentsStd is null || LatentsMean.Length != ZDim || LatentsStd.Length != ZDim)
            throw new ArgumentException($"CompactVaeConfig: latents_mean and latents_std need z_dim = {ZDim} values each, got {LatentsMean?.Length ?? 0} and {LatentsStd?.Length ?? 0}.");
        if (LatentsStd.Any(s => !(s > 0)))
            throw new ArgumentException("CompactVaeConfig: every latents_std must be positive.");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>config.json text, <c>_class_name</c> first.</summary>
    public string ToJson()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(this, JsonOptions))!.AsObject();
        node.Insert(0, "_class_name", ClassName);
        return node.ToJsonString(JsonOptions);
    }

    /// <summary>Parses config.json (unknown keys ignored) and validates it.</summary>
    public static CompactVaeConfig FromJson(string json)
    {
        CompactVaeConfig? c;
        try { c = JsonSerializer.Deserialize<CompactVaeConfig>(json); }
        catch (JsonException e) { throw new ArgumentException($"CompactVaeConfig: invalid config JSON ({e.Message}).", e); }
        if (c is null) throw new ArgumentException("CompactVaeConfig: config JSON is null.");
        c.Validate();
        return c;
    }
}
