using FlowGuide.Models;
using FlowGuide.Models.Text;
using FlowGuide.Models.Video;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training;

/// <summary>A caption attribute <see cref="CaptionProbe"/> changes while keeping every other word.</summary>
public enum CaptionAttribute
{
    /// <summary>Every shape's colour word (the word before a shape word) moves three places along the shape palette.</summary>
    Colour,
    /// <summary>Every shape word moves three places along the shape list.</summary>
    Shape,
    /// <summary>
    /// The motion told backwards in time: left/right, up/down, grows/shrinks and clockwise/counterclockwise swapped.
    /// Clips that bounce or stay still have no such wording and are skipped.
    /// </summary>
    Motion,
    /// <summary>The background: a textured kind moves two places along (striped, checkered, gradient, textured); a plain one changes its colour.</summary>
    Background,
    /// <summary>The empty prompt (the unconditional input CFG uses): how much the whole caption is worth.</summary>
    Everything,
}

/// <summary>Settings of <see cref="CaptionProbe.Run"/>.</summary>
public sealed record CaptionProbeOptions
{
    /// <summary>World clips probed (the first ones of <see cref="Split"/>).</summary>
    public int Clips { get; init; } = 48;
    public WorldSplit Split { get; init; } = WorldSplit.Validation;
    /// <summary>Noise levels t of the flow-matching loss (each with one fixed noise draw per clip).</summary>
    public double[] Timesteps { get; init; } = { 0.3, 0.5, 0.7, 0.9, 0.95 };
    public CaptionAttribute[] Attributes { get; init; } = Enum.GetValues<CaptionAttribute>();
    /// <summary>Clip size; it must fit the VAE (the model's defaults, 17x64x64 for the shipped model).</summary>
    public int Frames { get; init; } = 17;
    public int Height { get; init; } = 64;
    public int Width { get; init; } = 64;
    /// <summary>Seeds the noise draws.</summary>
    public ulong Seed { get; init; }

    public void Validate()
    {
        if (Clips < 2) throw new ArgumentException($"CaptionProbe: at least 2 clips are needed for an interval, got {Clips}.");
        if (Timesteps.Length == 0 || Timesteps.Any(t => !(t > 0 && t < 1)))
            throw new ArgumentException($"CaptionProbe: noise levels must be a non-empty list of values in (0, 1), got [{string.Join(", ", Timesteps)}].");
        if (Attributes.Length == 0) throw new ArgumentException("CaptionProbe: no attribute to probe.");
        if (Frames < 1 || Height < 1 || Width < 1) throw new ArgumentException($"CaptionProbe: clip size {Frames}x{Height}x{Width} must be positive.");
    }
}

/// <summary>
/// One attribute at one noise level: the flow-matching loss with the clips' true captions and with the attribute changed,
/// over the clips whose caption has the attribute. <see cref="Gap"/> = edited - true, averaged over clips, with a 95%
/// interval (normal approximation of the paired differences). A gap near zero means the model does not use the words.
/// </summary>
public sealed record CaptionProbeRow(CaptionAttribute Attribute, double T, int Clips, double TrueLoss, double EditedLoss,
    double Gap, double GapLow, double GapHigh);

/// <summary>
/// Which caption words a text-to-video model conditions on: for motion-world clips, the flow-matching loss of the model
/// with each clip's own caption against the loss with one attribute reworded (the same latent, the same noise). A model
/// that uses an attribute predicts worse when it is told the wrong one. The loss is <see cref="DitTrainer.FlowLoss"/>, on
/// the VAE's latents of the rendered clips, exactly what training minimises.
/// </summary>
public static class CaptionProbe
{
    private static readonly string[] Shapes = Enum.GetValues<ShapeKind>().Select(k => k.Word()).ToArray();
    private static readonly string[] Colours = Palette.ShapeColors.Select(c => c.Word()).ToArray();
    private static readonly string[] PlainColours = Palette.PlainBackgroundColors.Select(c => c.Word()).ToArray();
    private static readonly string[] BackgroundKinds = { "striped", "checkered", "gradient", "textured" };
    private static readonly Dictionary<string, string> Reversed = new()
    {
        ["left"] = "right", ["right"] = "left", ["up"] = "down", ["down"] = "up",
        ["grows"] = "shrinks", ["shrinks"] = "grows", ["clockwise"] = "counterclockwise", ["counterclockwise"] = "clockwise",
    };

    /// <summary>
    /// The caption with <paramref name="attribute"/> reworded (lower-case words, single spaces), or null when the caption
    /// has no wording for it (a bouncing shape has no time-reversible motion words).
    /// </summary>
    public static string? Edit(string caption, CaptionAttribute attribute)
    {
        ArgumentNullException.ThrowIfNull(caption);
        if (attribute == CaptionAttribute.Everything) return "";
        var w = CaptionGrammar.Tokenize(caption);
        bool changed = false;
        for (int i = 0; i < w.Length; i++)
        {
            string? next = attribute switch
            {
                CaptionAttribute.Colour when i + 1 < w.Length && Shapes.Contains(w[i + 1]) && Colours.Contains(w[i]) => Shift(Colours, w[i], 3),
                CaptionAttribute.Shape when Shapes.Contains(w[i]) => Shift(Shapes, w[i], 3),
                CaptionAttribute.Motion when Reversed.TryGetValue(w[i], out var r) => r,
                CaptionAttribute.Background when BackgroundKinds.Contains(w[i]) && i + 1 < w.Length && w[i + 1] == "background" => Shift(BackgroundKinds, w[i], 2),
                CaptionAttribute.Background when i > 0 && w[i - 1] == "plain" && PlainColours.Contains(w[i]) => Shift(PlainColours, w[i], 1),
                _ => null,
            };
            if (next is null) continue;
            w[i] = next;
            changed = true;
        }
        if (!changed) return null;
        // "a"/"an" before a reworded colour or shape follows its new first letter
        for (int i = 0; i + 1 < w.Length; i++)
            if (w[i] is "a" or "an") w[i] = CaptionGrammar.ArticleFor(w[i + 1]);
        return string.Join(' ', w);
    }

    private static string Shift(string[] set, string word, int by) => set[(Array.IndexOf(set, word) + by) % set.Length];

    /// <summary>
    /// Probes <paramref name="model"/> (with its text encoder and VAE) on the first <see cref="CaptionProbeOptions.Clips"/>
    /// clips of the split: one row per attribute and noise level, in the order of the options.
    /// </summary>
    public static IReadOnlyList<CaptionProbeRow> Run(WanTransformer3D model, WordTextEncoder text, IVideoAutoencoder vae,
        CaptionProbeOptions options, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int tf = vae.TemporalFactor, sf = vae.SpatialFactor;
        if ((options.Frames - 1) % tf != 0 || options.Height % sf != 0 || options.Width % sf != 0)
            throw new ArgumentException($"CaptionProbe: clips of {options.Frames}x{options.Height}x{options.Width} do not fit the VAE ({tf}k+1 frames, sides multiple of {sf}).");
        int nt = options.Timesteps.Length, na = options.Attributes.Length;
        var truth = new List<double>[na, nt];
        var edited = new List<double>[na, nt];
        for (int a = 0; a < na; a++)
            for (int k = 0; k < nt; k++) { truth[a, k] = new(); edited[a, k] = new(); }

        using var _ = GradMode.NoGrad();
        for (int c = 0; c < options.Clips; c++)
        {
            using var scope = new TensorScope();
            var clip = MotionWorld.Generate(c, options.Split, options.Frames, options.Width, options.Height);
            var z0 = vae.Encode(VaeTrainer.Batch(clip.Video));
            var own = text.Encode(clip.Caption);
            var edits = options.Attributes.Select(a => Edit(clip.Caption, a)).ToArray();
            var encoded = edits.Select(e => e is null ? null : text.Encode(e)).ToArray();
            for (int k = 0; k < nt; k++)
            {
                var eps = Tensor.Randn(new Rng(options.Seed * 1_000_003UL + (ulong)c * 131 + (ulong)k), z0.Shape.ToArray());
                var t = new[] { (float)options.Timesteps[k] };
                double lossTrue = DitTrainer.FlowLoss(model, z0, eps, t, own).Item();
                for (int a = 0; a < na; a++)
                {
                    if (encoded[a] is not { } ctx) continue;
                    truth[a, k].Add(lossTrue);
                    edited[a, k].Add(DitTrainer.FlowLoss(model, z0, eps, t, ctx).Item());
                }
            }
            log?.WriteLine($"caption probe: clip {c + 1}/{options.Clips}");
        }

        var rows = new List<CaptionProbeRow>();
        for (int a = 0; a < na; a++)
            for (int k = 0; k < nt; k++)
            {
                var d = edited[a, k].Zip(truth[a, k], (e, t) => e - t).ToArray();
                int n = d.Length;
                double mean = n == 0 ? double.NaN : d.Average();
                double half = n < 2 ? double.NaN : 1.96 * Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / (n - 1) / n);
                rows.Add(new CaptionProbeRow(options.Attributes[a], options.Timesteps[k], n,
                    n == 0 ? double.NaN : truth[a, k].Average(), n == 0 ? double.NaN : edited[a, k].Average(), mean, mean - half, mean + half));
            }
        return rows;
    }
}
