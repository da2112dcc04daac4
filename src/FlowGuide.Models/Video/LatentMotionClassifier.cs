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
/// per map and frame, and a 2-layer head. With <see cref="Subjects"/>, the classifier is told which thing the label is
/// about (for the motion world: the subject's colour), and that choice scales and shifts the channels of both 3-D
/// convolutions (FiLM), so the keypoints can follow the subject rather than whatever else moves.
/// </summary>
/// <param name="InChannels">Latent channels of the video model the classifier reads.</param>
/// <param name="Width">Channels of the two convolutions.</param>
/// <param name="Keypoints">Soft keypoints K: each gives a track of (x, y, spread x, spread y) over the frames.</param>
/// <param name="Frames">Latent frames the tracks are resampled to (linearly) before the head.</param>
/// <param name="HeadDim">Hidden width of the head.</param>
/// <param name="Classes">Class names, in logit order (for the motion world: its motion phrases and camera pans).</param>
/// <param name="Subjects">Names of what a label can be about (for the motion world: colour words); null or empty: an
/// unconditional classifier that reads the whole latent.</param>
public sealed record LatentMotionClassifierConfig(int InChannels, int Width, int Keypoints, int Frames, int HeadDim, string[] Classes,
    string[]? Subjects = null)
{
    /// <summary>The subject names, empty for an unconditional classifier.</summary>
    public IReadOnlyList<string> SubjectNames => Subjects ?? Array.Empty<string>();

    /// <summary>Whether the classifier is told the subject (<see cref="Subjects"/> is not empty).</summary>
    public bool Conditional => SubjectNames.Count > 0;

    /// <summary>The classifier trained for the shipped small model (8 latent channels, 17 latent frames).</summary>
    public static LatentMotionClassifierConfig Small(int inChannels, IEnumerable<string> classes, IEnumerable<string>? subjects = null) =>
        new(inChannels, 32, 12, 17, 128, classes.ToArray(), subjects?.ToArray());

    /// <summary>For unit tests: narrow, 3 keypoints, 3 frames.</summary>
    public static LatentMotionClassifierConfig Tiny(int inChannels, IEnumerable<string> classes, IEnumerable<string>? subjects = null) =>
        new(inChannels, 4, 3, 3, 8, classes.ToArray(), subjects?.ToArray());

    /// <summary>Throws an ArgumentException naming the first size or label that is out of range.</summary>
    public void Validate()
    {
        if (InChannels < 1 || Width < 1 || Keypoints < 1 || Frames < 1 || HeadDim < 1)
            throw new ArgumentException($"LatentMotionClassifierConfig: sizes must be positive, got in_channels {InChannels}, width {Width}, keypoints {Keypoints}, frames {Frames}, head_dim {HeadDim}.");
        if (Classes is null || Classes.Length < 2) throw new ArgumentException("LatentMotionClassifierConfig: at least two classes are needed.");
        if (Classes.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("LatentMotionClassifierConfig: a class name is empty.");
        if (Classes.Distinct(StringComparer.Ordinal).Count() != Classes.Length) throw new ArgumentException("LatentMotionClassifierConfig: class names repeat.");
        if (SubjectNames.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("LatentMotionClassifierConfig: a subject name is empty.");
        if (SubjectNames.Distinct(StringComparer.Ordinal).Count() != SubjectNames.Count) throw new ArgumentException("LatentMotionClassifierConfig: subject names repeat.");
    }

    /// <summary>Index of the class named <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name) => Array.IndexOf(Classes, name);

    /// <summary>Index of the subject named <paramref name="name"/>, or -1.</summary>
    public int SubjectIndexOf(string name) => SubjectNames.ToList().IndexOf(name);

    public bool Equals(LatentMotionClassifierConfig? other) => other is not null && InChannels == other.InChannels && Width == other.Width
        && Keypoints == other.Keypoints && Frames == other.Frames && HeadDim == other.HeadDim && Classes.SequenceEqual(other.Classes) && SubjectNames.SequenceEqual(other.SubjectNames);

    public override int GetHashCode() => HashCode.Combine(InChannels, Width, Keypoints, Frames, HeadDim, Classes.Length, SubjectNames.Count);

    /// <summary>The config as a JSON object (snake_case keys), the form <c>config.json</c> stores.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["in_channels"] = InChannels,
            ["width"] = Width,
            ["keypoints"] = Keypoints,
            ["frames"] = Frames,
            ["head_dim"] = HeadDim,
            ["classes"] = new JsonArray(Classes.Select(c => (JsonNode)c).ToArray()),
        };
        if (Conditional) o["subjects"] = new JsonArray(SubjectNames.Select(c => (JsonNode)c).ToArray());
        return o;
    }

    /// <summary>Reads <see cref="ToJson"/>'s form; a missing key or bad value throws <see cref="InvalidDataException"/> naming <paramref name="source"/>.</summary>
    public static LatentMotionClassifierConfig FromJson(JsonObject o, string source)
    {
        ArgumentNullException.ThrowIfNull(o);
        try
        {
            int Int(string k) => o[k]?.GetValue<int>() ?? throw new FormatException($"key '{k}' is missing");
            var classes = o["classes"] as JsonArray ?? throw new FormatException("key 'classes' is missing or not a list");
            string[]? subjects = null;
            if (o["subjects"] is { } sn)
                subjects = (sn as JsonArray ?? throw new FormatException("key 'subjects' is not a list"))
                    .Select(n => n?.GetValue<string>() ?? throw new FormatException("a subject name is null")).ToArray();
            var c = new LatentMotionClassifierConfig(Int("in_channels"), Int("width"), Int("keypoints"), Int("frames"), Int("head_dim"),
                classes.Select(n => n?.GetValue<string>() ?? throw new FormatException("a class name is null")).ToArray(), subjects);
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
/// A conditional classifier (<see cref="LatentMotionClassifierConfig.Subjects"/>) also takes the index of the subject the
/// label is about; its one-hot code gives per-channel scales (1 + gamma) and shifts (beta) of each convolution's output
/// before the SiLU (FiLM; zero-initialised, so training starts from the unconditional network).
/// Differentiable with respect to z_t, which is what classifier guidance (<c>FlowGuide.Guidance.MotionClassifierHook</c>)
/// needs: the gradient of log p(class | z_t).
/// </summary>
/// <remarks>
/// Parameter names: <c>convs.{0,1,2}.{weight,bias}</c>, <c>head.{0,1}.{weight,bias}</c>, and for a conditional classifier
/// <c>film.{0,1}.weight</c> ([2·Width, subjects]: gamma rows then beta rows). On disk (<see cref="Save"/>): a
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
        if (config.Conditional)
        {
            Film = Child("film", new ModuleList<Linear>(new[]
            {
                new Linear(config.SubjectNames.Count, 2 * w, bias: false, null),
                new Linear(config.SubjectNames.Count, 2 * w, bias: false, null),
            }));
        }
    }

    public LatentMotionClassifierConfig Config { get; }
    public ModuleList<Conv3d> Convs { get; }
    public ModuleList<Linear> Head { get; }
    /// <summary>The FiLM layers of a conditional classifier (subject one-hot → gamma and beta per convolution channel), else null.</summary>
    public ModuleList<Linear>? Film { get; }

    /// <summary>How the training data were made (world version, VAE, steps), read from and written to config.json's "training" object.</summary>
    public JsonObject? TrainingInfo { get; set; }

    /// <summary>
    /// z_t [B, C, F, H, W], t [B] (noise level in [0, 1]) and, for a conditional classifier, each item's subject index
    /// (into <see cref="LatentMotionClassifierConfig.Subjects"/>) → logits [B, K].
    /// </summary>
    public Tensor Forward(Tensor latent, Tensor t, int[]? subjects = null)
    {
        ArgumentNullException.ThrowIfNull(latent);
        ArgumentNullException.ThrowIfNull(t);
        if (latent.Rank != 5 || latent.Size(1) != Config.InChannels)
            throw new ArgumentException($"LatentMotionClassifier: latent must be [B, {Config.InChannels}, F, H, W], got {latent.Shape}.");
        int b = latent.Size(0), f = latent.Size(2), h = latent.Size(3), wd = latent.Size(4), k = Config.Keypoints;
        if (t.Rank != 1 || t.Size(0) != b) throw new ArgumentException($"LatentMotionClassifier: t must be [{b}], got {t.Shape}.");
        var code = SubjectCode(subjects, b);
        var tmap = t.Reshape(b, 1, 1, 1, 1).Expand(b, 1, f, h, wd);
        var x = Ops.Silu(Modulate(Convs[0].Forward(Ops.Concat(new[] { latent, tmap }, 1)), code, 0));
        x = Ops.Silu(Modulate(Convs[1].Forward(x), code, 1));
        var pooled = x.Mean(new[] { 2, 3, 4 });                                                    // [B, W]
        var tracks = Tracks(Convs[2].Forward(x));                                                  // [B, K, 4, F]
        if (f != Config.Frames) tracks = Ops.Matmul(tracks, Resampling(f, Config.Frames));         // [B, K, 4, F_config]
        var features = Ops.Concat(new[] { tracks.Reshape(b, k * TrackFeatures * Config.Frames), pooled, t.Reshape(b, 1) }, 1);
        return Head[1].Forward(Ops.Silu(Head[0].Forward(features)));
    }

    /// <summary>The one-hot code [B, S] of the subjects, or null for an unconditional classifier; checks the indices.</summary>
    private Tensor? SubjectCode(int[]? subjects, int b)
    {
        int s = Config.SubjectNames.Count;
        if (s == 0)
        {
            if (subjects is not null) throw new ArgumentException("LatentMotionClassifier: subjects were given to an unconditional classifier (its config has no subjects).");
            return null;
        }
        if (subjects is null) throw new ArgumentException($"LatentMotionClassifier: this classifier is conditional: give each item's subject (one of {string.Join(", ", Config.SubjectNames)}).");
        if (subjects.Length != b) throw new ArgumentException($"LatentMotionClassifier: {subjects.Length} subjects for a batch of {b}.");
        var oneHot = new float[b * s];
        for (int i = 0; i < b; i++)
        {
            if ((uint)subjects[i] >= (uint)s) throw new ArgumentException($"LatentMotionClassifier: subject {subjects[i]} is outside the {s} subjects.");
            oneHot[i * s + subjects[i]] = 1f;
        }
        return Tensor.FromArray(oneHot, b, s);
    }

    /// <summary>x [B, W, F, H, W'] → x·(1 + gamma) + beta with gamma, beta from FiLM layer <paramref name="layer"/>; x itself when unconditional.</summary>
    private Tensor Modulate(Tensor x, Tensor? code, int layer)
    {
        if (code is null) return x;
        int b = x.Size(0), w = x.Size(1);
        var gb = Film![layer].Forward(code);                                                        // [B, 2W]
        var gamma = gb.Narrow(1, 0, w).Reshape(b, w, 1, 1, 1);
        var beta = gb.Narrow(1, w, w).Reshape(b, w, 1, 1, 1);
        return Ops.Add(Ops.Add(x, Ops.Mul(x, gamma)), beta);
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

    /// <summary>
    /// log p(class | z_t[, subject]) summed over the batch, for each item its class index in <paramref name="labels"/>
    /// (and subject index in <paramref name="subjects"/> for a conditional classifier): the guidance objective.
    /// </summary>
    public Tensor LogProbability(Tensor latent, Tensor t, int[] labels, int[]? subjects = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var logp = Ops.LogSoftmax(Forward(latent, t, subjects), 1);
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
        var config = LatentMotionClassifierConfig.FromJson(o, configPath);
        return ConfigFolder.LoadWeights(() => new LatentMotionClassifier(config, null) { TrainingInfo = training }, directory);
    }
}
