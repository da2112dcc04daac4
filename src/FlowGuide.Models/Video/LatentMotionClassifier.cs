using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Video;

/// <summary>
/// Sizes and labels of <see cref="LatentMotionClassifier"/>: two 3-D convolutions (kernel 3, padding 1) of
/// <see cref="Width"/> channels with SiLU, a third (kernel 1x3x3) to <see cref="Keypoints"/> maps, a spatial soft-argmax
/// per map and frame, and a 2-layer head.
/// </summary>
/// <param name="InChannels">Latent channels of the video model the classifier reads.</param>
/// <param name="Width">Channels of the two convolutions.</param>
/// <param name="Keypoints">Soft keypoints K: each gives a track of (x, y, spread x, spread y) over the frames.</param>
/// <param name="Frames">Latent frames the tracks are resampled to (linearly) before the head.</param>
/// <param name="HeadDim">Hidden width of the head.</param>
/// <param name="Classes">Class names, in logit order (for the motion world: its motion phrases and camera pans).</param>
public sealed record LatentMotionClassifierConfig(int InChannels, int Width, int Keypoints, int Frames, int HeadDim, string[] Classes)
{
    /// <summary>The classifier trained for the shipped small model (8 latent channels, 17 latent frames).</summary>
    public static LatentMotionClassifierConfig Small(int inChannels, IEnumerable<string> classes) => new(inChannels, 32, 12, 17, 128, classes.ToArray());

    /// <summary>For unit tests: narrow, 3 keypoints, 3 frames.</summary>
    public static LatentMotionClassifierConfig Tiny(int inChannels, IEnumerable<string> classes) => new(inChannels, 4, 3, 3, 8, classes.ToArray());

    /// <summary>Throws an ArgumentException naming the first size or label that is out of range.</summary>
    public void Validate()
    {
        if (InChannels < 1 || Width < 1 || Keypoints < 1 || Frames < 1 || HeadDim < 1)
            throw new ArgumentException($"LatentMotionClassifierConfig: sizes must be positive, got in_channels {InChannels}, width {Width}, keypoints {Keypoints}, frames {Frames}, head_dim {HeadDim}.");
        if (Classes is null || Classes.Length < 2) throw new ArgumentException("LatentMotionClassifierConfig: at least two classes are needed.");
        if (Classes.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("LatentMotionClassifierConfig: a class name is empty.");
        if (Classes.Distinct(StringComparer.Ordinal).Count() != Classes.Length) throw new ArgumentException("LatentMotionClassifierConfig: class names repeat.");
    }

    /// <summary>Index of the class named <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name) => Array.IndexOf(Classes, name);

    public bool Equals(LatentMotionClassifierConfig? other) => other is not null && InChannels == other.InChannels && Width == other.Width
        && Keypoints == other.Keypoints && Frames == other.Frames && HeadDim == other.HeadDim && Classes.SequenceEqual(other.Classes);

    public override int GetHashCode() => HashCode.Combine(InChannels, Width, Keypoints, Frames, HeadDim, Classes.Length);

    /// <summary>The config as a JSON object (snake_case keys), the form <c>config.json</c> stores.</summary>
    public JsonObject ToJson() => new()
    {
        ["in_channels"] = InChannels,
        ["width"] = Width,
        ["keypoints"] = Keypoints,
        ["frames"] = Frames,
        ["head_dim"] = HeadDim,
        ["classes"] = new JsonArray(Classes.Select(c => (JsonNode)c).ToArray()),
    };

    /// <summary>Reads <see cref="ToJson"/>'s form; a missing key or bad value throws <see cref="InvalidDataException"/> naming <paramref name="source"/>.</summary>
    public static LatentMotionClassifierConfig FromJson(JsonObject o, string source)
    {
        ArgumentNullException.ThrowIfNull(o);
        try
        {
            int Int(string k) => o[k]?.GetValue<int>() ?? throw new FormatException($"key '{k}' is missing");
            var classes = o["classes"] as JsonArray ?? throw new FormatException("key 'classes' is missing or not a list");
            var c = new LatentMotionClassifierConfig(Int("in_channels"), Int("width"), Int("keypoints"), Int("frames"), Int("head_dim"),
                classes.Select(n => n?.GetValue<string>() ?? throw new FormatException("a class name is null")).ToArray());
            c.Validate();
            return c;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"LatentMotionClassifier: '{source}' is not a valid classifier config: {ex.Message}"), ex);
        }
    }
}

/// <summary>
/// A noise-aware classifier of what moves in a video latent: z_t = (1 - t)·z0 + t·eps [B, C, F, H, W] and its noise
/// level t [B] → logits [B, K] over <see cref="LatentMotionClassifierConfig.Classes"/>. Motion is a matter of where
/// things are frame after frame, so the network is built around soft keypoints: convolutions make
/// <see cref="LatentMotionClassifierConfig.Keypoints"/> score maps per frame, a softmax over each frame's positions turns
/// each into a distribution whose mean (x, y) and spread (variance in x and y) form a track over the frames (the spatial
/// soft-argmax of Levine et al., 2016), and the head reads the tracks — resampled linearly to the config's frame count —
/// together with the mean of the convolution features and t. The noise level also enters as a constant input channel.
/// Differentiable with respect to z_t, which is what classifier guidance (<c>FlowGuide.Guidance.MotionClassifierHook</c>)
/// needs: the gradient of log p(class | z_t).
/// </summary>
/// <remarks>
/// Parameter names: <c>convs.{0,1,2}.{weight,bias}</c>, <c>head.{0,1}.{weight,bias}</c>. On disk (<see cref="Save"/>): a
/// folder with <c>config.json</c> (sizes, class names and an optional "training" object) and <c>model.safetensors</c>.
/// </remarks>
public sealed class LatentMotionClassifier : Module
{
    public const string ConfigFileName = ConfigFolder.ConfigFileName;
    public const string WeightsFileName = ConfigFolder.WeightsFileName;

    /// <summary>Features per keypoint and frame: mean x, mean y, spread x, spread y.</summary>
    public const int TrackFeatures = 4;

    public LatentMotionClassifier(LatentMotionClassifierConfig config, Rng? rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        int w = config.Width;
        Convs = Child("convs", new ModuleList<Conv3d>(new[]
        {
            new Conv3d(config.InChannels + 1, w, new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }),
            new Conv3d(w, w, new[] { 3, 3, 3 }, rng, padding: new[] { 1, 1, 1 }),
            new Conv3d(w, config.Keypoints, new[] { 1, 3, 3 }, rng, padding: new[] { 0, 1, 1 }),
        }));
        Head = Child("head", new ModuleList<Linear>(new[]
        {
            new Linear(config.Keypoints * config.Frames * TrackFeatures + w + 1, config.HeadDim, bias: true, rng),
            new Linear(config.HeadDim, config.Classes.Length, bias: true, rng),
        }));
    }

    public LatentMotionClassifierConfig Config { get; }
    public ModuleList<Conv3d> Convs { get; }
    public ModuleList<Linear> Head { get; }

    /// <summary>How the training data were made (world version, VAE, steps), read from and written to config.json's "training" object.</summary>
    public JsonObject? TrainingInfo { get; set; }

    /// <summary>z_t [B, C, F, H, W], t [B] (noise level in [0, 1]) → logits [B, K].</summary>
    public Tensor Forward(Tensor latent, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(latent);
        ArgumentNullException.ThrowIfNull(t);
        if (latent.Rank != 5 || latent.Size(1) != Config.InChannels)
            throw new ArgumentException($"LatentMotionClassifier: latent must be [B, {Config.InChannels}, F, H, W], got {latent.Shape}.");
        int b = latent.Size(0), f = latent.Size(2), h = latent.Size(3), wd = latent.Size(4), k = Config.Keypoints;
        if (t.Rank != 1 || t.Size(0) != b) throw new ArgumentException($"LatentMotionClassifier: t must be [{b}], got {t.Shape}.");
        var tmap = t.Reshape(b, 1, 1, 1, 1).Expand(b, 1, f, h, wd);
        var x = Ops.Silu(Convs[0].Forward(Ops.Concat(new[] { latent, tmap }, 1)));
        x = Ops.Silu(Convs[1].Forward(x));
        var pooled = x.Mean(new[] { 2, 3, 4 });                                                    // [B, W]
        var tracks = Tracks(Convs[2].Forward(x));                                                  // [B, K, 4, F]
        if (f != Config.Frames) tracks = Ops.Matmul(tracks, Resampling(f, Config.Frames));         // [B, K, 4, F_config]
        var features = Ops.Concat(new[] { tracks.Reshape(b, k * TrackFeatures * Config.Frames), pooled, t.Reshape(b, 1) }, 1);
        return Head[1].Forward(Ops.Silu(Head[0].Forward(features)));
    }

    /// <summary>
    /// Score maps [B, K, F, H, W] → tracks [B, K, 4, F]: per map and frame, the softmax over positions and its mean x, mean
    /// y (each in [-1, 1] across the frame) and 4x its variance in x and in y.
    /// </summary>
    public static Tensor Tracks(Tensor maps)
    {
        ArgumentNullException.ThrowIfNull(maps);
        if (maps.Rank != 5) throw new ArgumentException($"LatentMotionClassifier.Tracks: maps must be [B, K, F, H, W], got {maps.Shape}.");
        int b = maps.Size(0), k = maps.Size(1), f = maps.Size(2), h = maps.Size(3), w = maps.Size(4);
        var p = Ops.Softmax(maps.Reshape(b, k, f, h * w), -1);                                    // [B, K, F, HW]
        var gx = new float[h * w];
        var gy = new float[h * w];
        for (int i = 0; i < h * w; i++)
        {
            gx[i] = w > 1 ? 2f * (i % w) / (w - 1) - 1f : 0f;
            gy[i] = h > 1 ? 2f * (i / w) / (h - 1) - 1f : 0f;
        }
        var xs = Tensor.FromArray(gx, h * w);
        var ys = Tensor.FromArray(gy, h * w);
        var mx = Ops.Mul(p, xs).Sum(-1);
        var my = Ops.Mul(p, ys).Sum(-1);
        var vx = Ops.Sub(Ops.Mul(p, Ops.Mul(xs, xs)).Sum(-1), Ops.Mul(mx, mx)).MulScalar(4f);
        var vy = Ops.Sub(Ops.Mul(p, Ops.Mul(ys, ys)).Sum(-1), Ops.Mul(my, my)).MulScalar(4f);
        return Ops.Stack(new[] { mx, my, vx, vy }, 2);                                             // [B, K, 4, F]
    }

    /// <summary>[from, to] matrix of linear interpolation from <paramref name="from"/> samples to <paramref name="to"/> over the same span.</summary>
    public static Tensor Resampling(int from, int to)
    {
        var m = new float[from * to];
        for (int j = 0; j < to; j++)
        {
            double pos = to == 1 ? (from - 1) / 2.0 : (double)j * (from - 1) / (to - 1);
            int i0 = Math.Min((int)Math.Floor(pos), from - 1), i1 = Math.Min(i0 + 1, from - 1);
            double a = pos - i0;
            m[i0 * to + j] += (float)(1 - a);
            if (i1 != i0) m[i1 * to + j] += (float)a;
        }
        return Tensor.FromArray(m, from, to);
    }

    /// <summary>log p(class | z_t) summed over the batch, for each item its class index in <paramref name="labels"/>: the guidance objective.</summary>
    public Tensor LogProbability(Tensor latent, Tensor t, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var logp = Ops.LogSoftmax(Forward(latent, t), 1);
        if (labels.Length != logp.Size(0)) throw new ArgumentException($"LatentMotionClassifier: {labels.Length} labels for a batch of {logp.Size(0)}.");
        foreach (var l in labels)
            if ((uint)l >= (uint)Config.Classes.Length) throw new ArgumentException($"LatentMotionClassifier: label {l} is outside the {Config.Classes.Length} classes.");
        return logp.Gather(1, labels, new[] { labels.Length, 1 }).Sum();
    }

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> into <paramref name="directory"/>, each through a temporary name.</summary>
    public void Save(string directory) => ConfigFolder.Save(this, directory, nameof(LatentMotionClassifier), Config.ToJson(), TrainingInfo);

    /// <summary>
    /// Reads a folder written by <see cref="Save"/>: a missing folder or file throws DirectoryNotFound/FileNotFound naming
    /// the path, a malformed config <see cref="InvalidDataException"/>, mismatched weights <see cref="StateDictMismatchException"/>.
    /// The classifier comes back frozen and in eval mode.
    /// </summary>
    public static LatentMotionClassifier Load(string directory)
    {
        var (o, configPath, training) = ConfigFolder.ReadConfig(directory, nameof(LatentMotionClassifier), "classifier");
        return ConfigFolder.LoadWeights(new LatentMotionClassifier(LatentMotionClassifierConfig.FromJson(o, configPath), null) { TrainingInfo = training }, directory);
    }
}
