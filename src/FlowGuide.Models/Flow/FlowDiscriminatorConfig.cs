using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlowGuide.Models.Flow;

/// <summary>
/// Sizes of <see cref="FlowDiscriminator"/>: square flow patches of <see cref="PatchSize"/> pixels projected to
/// <see cref="Width"/>-wide tokens, a learned <see cref="PositionGrid"/> x <see cref="PositionGrid"/> position table that
/// is resized to whatever token grid the flow gives, <see cref="Layers"/> pre-norm ViT blocks, and a 3-layer MLP head.
/// </summary>
/// <param name="PatchSize">Pixels per patch side; a flow whose side is not a multiple is edge-padded up to one.</param>
/// <param name="Width">Token width D.</param>
/// <param name="Layers">Transformer blocks.</param>
/// <param name="Heads">Attention heads (Width must divide by it).</param>
/// <param name="FfnDim">Hidden width of each block's feed-forward layer.</param>
/// <param name="HeadDim">Hidden width of the two hidden layers of the classifier head.</param>
/// <param name="PositionGrid">Side of the learned position table; resized bilinearly to the token grid.</param>
/// <param name="FlowScale">Multiplies the flow (pixels) before the projection, bringing typical motions to about 1.</param>
public sealed record FlowDiscriminatorConfig(
    int PatchSize = 8,
    int Width = 128,
    int Layers = 4,
    int Heads = 4,
    int FfnDim = 512,
    int HeadDim = 128,
    int PositionGrid = 8,
    float FlowScale = 0.25f)
{
    /// <summary>The discriminator trained for the shipped small model: patch 8, width 128, 4 layers of 4 heads (about 0.85M parameters).</summary>
    public static FlowDiscriminatorConfig Small { get; } = new();

    /// <summary>For unit tests: patch 4, width 16, 1 layer of 2 heads.</summary>
    public static FlowDiscriminatorConfig Tiny { get; } = new(PatchSize: 4, Width: 16, Layers: 1, Heads: 2, FfnDim: 32, HeadDim: 16, PositionGrid: 4, FlowScale: 0.25f);

    /// <summary>Throws an ArgumentException naming the first size that is out of range.</summary>
    public void Validate()
    {
        if (PatchSize < 1 || Width < 1 || Layers < 0 || Heads < 1 || FfnDim < 1 || HeadDim < 1 || PositionGrid < 1)
            throw new ArgumentException($"FlowDiscriminatorConfig: sizes must be positive (layers may be 0), got {this}.");
        if (Width % Heads != 0)
            throw new ArgumentException($"FlowDiscriminatorConfig: width {Width} is not divisible by {Heads} heads.");
        if (!(FlowScale > 0) || float.IsInfinity(FlowScale))
            throw new ArgumentException($"FlowDiscriminatorConfig: FlowScale must be positive and finite, got {FlowScale}.");
    }

    /// <summary>The config as a JSON object (snake_case keys), the form <c>config.json</c> stores.</summary>
    public JsonObject ToJson() => new()
    {
        ["patch_size"] = PatchSize,
        ["width"] = Width,
        ["layers"] = Layers,
        ["heads"] = Heads,
        ["ffn_dim"] = FfnDim,
        ["head_dim"] = HeadDim,
        ["position_grid"] = PositionGrid,
        ["flow_scale"] = (double)(decimal)FlowScale,
    };

    /// <summary>Reads <see cref="ToJson"/>'s form; a missing key or a bad value throws <see cref="InvalidDataException"/> naming <paramref name="source"/>.</summary>
    public static FlowDiscriminatorConfig FromJson(JsonObject o, string source)
    {
        ArgumentNullException.ThrowIfNull(o);
        try
        {
            int Int(string k) => o[k]?.GetValue<int>() ?? throw new FormatException($"key '{k}' is missing");
            var c = new FlowDiscriminatorConfig(Int("patch_size"), Int("width"), Int("layers"), Int("heads"), Int("ffn_dim"), Int("head_dim"),
                Int("position_grid"), (float)(o["flow_scale"]?.GetValue<double>() ?? throw new FormatException("key 'flow_scale' is missing")));
            c.Validate();
            return c;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"FlowDiscriminator: '{source}' is not a valid discriminator config: {ex.Message}"), ex);
        }
    }
}
