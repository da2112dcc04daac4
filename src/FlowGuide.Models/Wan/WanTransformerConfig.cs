using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlowGuide.Models.Wan;

/// <summary>
/// Hyper-parameters of a Wan2.1 video transformer (diffusers' <c>WanTransformer3DModel</c> config). The width is
/// <see cref="NumHeads"/> x <see cref="HeadDim"/>; every other size follows from these fields, so one code path serves the
/// real 1.3B/14B checkpoints and the project's small models. (De)serialises to diffusers' <c>config.json</c> key names.
/// </summary>
public sealed record WanTransformerConfig
{
    /// <summary>Patch size (frames, rows, columns) of the patch embedding; kernel = stride. Diffusers: <c>patch_size</c>.</summary>
    public (int T, int H, int W) PatchSize { get; init; } = (1, 2, 2);

    public int NumHeads { get; init; } = 12;

    /// <summary>Channels per head. At least 6 and even: RoPE splits it into time/height/width pairs.</summary>
    public int HeadDim { get; init; } = 128;

    /// <summary>Latent channels in.</summary>
    public int InChannels { get; init; } = 16;

    /// <summary>Latent channels out (the velocity).</summary>
    public int OutChannels { get; init; } = 16;

    /// <summary>Width of the text encoder's hidden states (4096 for UMT5-XXL).</summary>
    public int TextDim { get; init; } = 4096;

    /// <summary>Channels of the sinusoidal timestep embedding (cos half first).</summary>
    public int FreqDim { get; init; } = 256;

    public int FfnDim { get; init; } = 8960;

    public int NumLayers { get; init; } = 30;

    /// <summary>True: LayerNorm with affine before cross-attention (<c>norm2</c>); false: no norm there (and no keys).</summary>
    public bool CrossAttnNorm { get; init; } = true;

    /// <summary>Query/key norm: <c>"rms_norm_across_heads"</c> (RMSNorm over all heads' channels) or null for none.</summary>
    public string? QkNorm { get; init; } = RmsNormAcrossHeads;

    public float Eps { get; init; } = 1e-6f;

    /// <summary>Largest position along any patch-grid axis plus one (RoPE tables cover positions 0 .. this - 1).</summary>
    public int RopeMaxSeqLen { get; init; } = 1024;

    /// <summary>
    /// FlowGuide's extension, off (0) in every Wan2.1 checkpoint: when K &gt; 0, each token also gets a learned projection
    /// (<c>flowguide_position_embedding</c>, zero-initialised) of sin/cos(pi k u), k = 1..K, of its normalised frame, row and
    /// column (u in [0, 1] across the patch grid), added after the patch embedding. RoPE alone gives attention only
    /// relative offsets, so a token has no direct way to know whether it is early or late in the clip, or left or right
    /// in the frame; what a caption's "moves left" implies about where the subject is at each frame needs exactly that.
    /// Normalised coordinates make the feature independent of the frame count and size. Config key
    /// <c>flowguide_position_frequencies</c> (written only when non-zero, so Wan configs stay as they are).
    /// </summary>
    public int PositionFrequencies { get; init; }

    public const string RmsNormAcrossHeads = "rms_norm_across_heads";

    /// <summary>Width of the position features fed to the position embedding: sin and cos of K frequencies on 3 axes.</summary>
    public int PositionFeatureDim => 6 * PositionFrequencies;

    /// <summary>Model width D = heads x head dim.</summary>
    public int Width => NumHeads * HeadDim;

    /// <summary>Elements in one patch (pt·ph·pw).</summary>
    public int PatchVolume => PatchSize.T * PatchSize.H * PatchSize.W;

    /// <summary>Width of <c>proj_out</c>'s output: patch volume x out channels (64 for the real models).</summary>
    public int OutProjDim => PatchVolume * OutChannels;

    /// <summary>Wan2.1-T2V-1.3B: 12 heads x 128 = 1536 wide, FFN 8960, 30 layers, text 4096, 16 latent channels.</summary>
    public static WanTransformerConfig Wan21_1_3B { get; } = new();

    /// <summary>Wan2.1-T2V-14B: 40 heads x 128 = 5120 wide, FFN 13824, 40 layers.</summary>
    public static WanTransformerConfig Wan21_14B { get; } = new() { NumHeads = 40, FfnDim = 13824, NumLayers = 40 };

    /// <summary>A toy model for unit tests: 2 heads x 12, FFN 48, 2 layers, text 16, 4 latent channels.</summary>
    public static WanTransformerConfig Tiny { get; } = new()
    {
        NumHeads = 2, HeadDim = 12, FfnDim = 48, NumLayers = 2, TextDim = 16, InChannels = 4, OutChannels = 4,
    };

    /// <summary>
    /// The project's shipped small model: 4 heads x 64 = 256 wide, FFN 1024, 6 layers, text 256, 16 latent channels
    /// (the Wan VAE's latent). Derive variants with <c>with</c>, e.g. <c>Small with { NumLayers = 8 }</c>.
    /// </summary>
    public static WanTransformerConfig Small { get; } = new()
    {
        NumHeads = 4, HeadDim = 64, FfnDim = 1024, NumLayers = 6, TextDim = 256,
    };

    /// <summary>Throws ArgumentException naming the first field that cannot build a model.</summary>
    public void Validate()
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new ArgumentException($"WanTransformerConfig: {name} must be positive, got {v}.");
        }
        Positive(PatchSize.T, "patch_size[0]"); Positive(PatchSize.H, "patch_size[1]"); Positive(PatchSize.W, "patch_size[2]");
        Positive(NumHeads, "num_attention_heads"); Positive(InChannels, "in_channels"); Positive(OutChannels, "out_channels");
        if (PositionFrequencies < 0) throw new ArgumentException($"WanTransformerConfig: flowguide_position_frequencies must be 0 (off) or positive, got {PositionFrequencies}.");
        Positive(TextDim, "text_dim"); Positive(FfnDim, "ffn_dim"); Positive(NumLayers, "num_layers"); Positive(RopeMaxSeqLen, "rope_max_seq_len");
        if (HeadDim < 6 || HeadDim % 2 != 0)
            throw new ArgumentException($"WanTransformerConfig: attention_head_dim {HeadDim} must be even and at least 6 (RoPE splits it into time/height/width pairs).");
        if (FreqDim < 2 || FreqDim % 2 != 0)
            throw new ArgumentException($"WanTransformerConfig: freq_dim {FreqDim} must be even and at least 2 (cos half, sin half).");
        if (!(Eps > 0)) throw new ArgumentException($"WanTransformerConfig: eps must be positive, got {Eps}.");
        if (QkNorm is not null && QkNorm != RmsNormAcrossHeads)
            throw new NotSupportedException($"WanTransformerConfig: qk_norm '{QkNorm}' is not supported (expected '{RmsNormAcrossHeads}' or null).");
    }

    // ---------------------------------------------------------------- JSON (diffusers config.json)

    /// <summary>The diffusers <c>config.json</c> text for this config (with <c>_class_name</c> WanTransformer3DModel).</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["_class_name"] = "WanTransformer3DModel",
            ["added_kv_proj_dim"] = null,
            ["attention_head_dim"] = HeadDim,
            ["cross_attn_norm"] = CrossAttnNorm,
            ["eps"] = (double)(decimal)Eps, // 1e-6f written as 1E-06, not 9.99999997E-07
            ["ffn_dim"] = FfnDim,
            ["freq_dim"] = FreqDim,
            ["image_dim"] = null,
            ["in_channels"] = InChannels,
            ["num_attention_heads"] = NumHeads,
            ["num_layers"] = NumLayers,
            ["out_channels"] = OutChannels,
            ["patch_size"] = new JsonArray(PatchSize.T, PatchSize.H, PatchSize.W),
            ["qk_norm"] = QkNorm,
            ["rope_max_seq_len"] = RopeMaxSeqLen,
            ["text_dim"] = TextDim,
        };
        if (PositionFrequencies > 0) o["flowguide_position_frequencies"] = PositionFrequencies;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// Reads a diffusers transformer <c>config.json</c>. Keys it does not know (<c>_diffusers_version</c>,
    /// <c>pos_embed_seq_len</c>, ...) are ignored; missing keys take the 1.3B defaults. Image conditioning
    /// (<c>image_dim</c> or <c>added_kv_proj_dim</c> set: the I2V models) is not supported and throws.
    /// </summary>
    public static WanTransformerConfig FromJson(string json, string source = "config.json")
    {
        JsonObject o;
        try
        {
            o = JsonNode.Parse(json) as JsonObject ?? throw new FormatException("the top level is not a JSON object");
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new FormatException($"WanTransformerConfig: {source} is not a valid config: {e.Message}", e);
        }
        var d = new WanTransformerConfig();
        int Int(string key, int fallback) => Get(o, key, source, n => n.GetValue<int>(), fallback);
        foreach (var key in new[] { "image_dim", "added_kv_proj_dim" })
            if (o[key] is not null)
                throw new NotSupportedException($"WanTransformerConfig: {source} sets '{key}' (an image-conditioned model); only text-to-video transformers are supported.");
        var patch = d.PatchSize;
        if (o["patch_size"] is { } p)
        {
            var arr = p as JsonArray;
            if (arr is null || arr.Count != 3)
                throw new FormatException($"WanTransformerConfig: {source} 'patch_size' must be an array of 3 integers, got {p.ToJsonString()}.");
            patch = (Get(o, "patch_size", source, _ => arr[0]!.GetValue<int>(), 0), Get(o, "patch_size", source, _ => arr[1]!.GetValue<int>(), 0),
                Get(o, "patch_size", source, _ => arr[2]!.GetValue<int>(), 0));
        }
        var c = new WanTransformerConfig
        {
            PatchSize = patch,
            NumHeads = Int("num_attention_heads", d.NumHeads),
            HeadDim = Int("attention_head_dim", d.HeadDim),
            InChannels = Int("in_channels", d.InChannels),
            OutChannels = Int("out_channels", d.OutChannels),
            TextDim = Int("text_dim", d.TextDim),
            FreqDim = Int("freq_dim", d.FreqDim),
            FfnDim = Int("ffn_dim", d.FfnDim),
            NumLayers = Int("num_layers", d.NumLayers),
            CrossAttnNorm = Get(o, "cross_attn_norm", source, n => n.GetValue<bool>(), d.CrossAttnNorm),
            QkNorm = o.ContainsKey("qk_norm") ? Get<string?>(o, "qk_norm", source, n => n.GetValue<string>(), null) : d.QkNorm,
            Eps = Get(o, "eps", source, n => (float)n.GetValue<double>(), d.Eps),
            RopeMaxSeqLen = Int("rope_max_seq_len", d.RopeMaxSeqLen),
            PositionFrequencies = Int("flowguide_position_frequencies", 0),
        };
        c.Validate();
        return c;
    }

    /// <summary>Reads a config.json file (see <see cref="FromJson"/>).</summary>
    public static WanTransformerConfig Load(string path) => FromJson(File.ReadAllText(path), path);

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> (through a temporary file renamed into place).</summary>
    public void Save(string path)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, ToJson());
        File.Move(tmp, path, overwrite: true);
    }

    private static T Get<T>(JsonObject o, string key, string source, Func<JsonNode, T> read, T fallback)
    {
        var n = o[key];
        if (n is null) return fallback;
        try
        {
            return read(n);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new FormatException($"WanTransformerConfig: {source} key '{key}' has an unexpected value {n.ToJsonString()} ({typeof(T).Name} expected).", e);
        }
    }

    /// <summary>One line for logs: width, heads, layers, FFN, text dim, channels.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"Wan transformer {Width} wide ({NumHeads}x{HeadDim}), {NumLayers} layers, ffn {FfnDim}, text {TextDim}, channels {InChannels}->{OutChannels}, patch {PatchSize}")
        + (PositionFrequencies > 0 ? $", position embedding ({PositionFrequencies} frequencies)" : "");
}
