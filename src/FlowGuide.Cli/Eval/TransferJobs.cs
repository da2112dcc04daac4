using System.Globalization;
using FlowGuide.Guidance;
using FlowGuide.Models;
using FlowGuide.Tensors;
using FlowGuide.Training.World;
using FlowGuide.Training.World.Analysis;

namespace FlowGuide.Cli.Eval;

/// <summary>One line of a transfer file: where the motion comes from and what the output should show.</summary>
/// <param name="Line">1-based line number in the file (for messages).</param>
/// <param name="Source">The source as written: <c>world:SPLIT:INDEX</c> or a path.</param>
/// <param name="Prompt">The target prompt.</param>
/// <param name="World">The world clip a <c>world:</c> source names, else null.</param>
/// <param name="Path">The full path of a file source (resolved, existing), else null.</param>
public sealed record TransferJob(int Line, string Source, string Prompt, (WorldSplit Split, long Index)? World, string? Path);

/// <summary>
/// A source ready for an evaluation: the video the model's output is compared with, its latent, and for a motion-world
/// clip what its subject does.
/// </summary>
/// <param name="Name">The source as the transfer file names it (results' <c>source</c> column).</param>
/// <param name="Video">[3, F, H, W] in [-1, 1] at the model's frames and size: what motion fidelity compares outputs with.</param>
/// <param name="Latent">[1, C, F', H', W']: the VAE's clean latent of <paramref name="Video"/>.</param>
/// <param name="WorldCaption">The caption of a world clip read back (its motion, speed and any pan), else null.</param>
/// <param name="Warnings">Lines a user should see about how a file was prepared (e.g. too few frames).</param>
public sealed record TransferSource(string Name, Tensor Video, Tensor Latent, WorldPrompt? WorldCaption, IReadOnlyList<string> Warnings);

/// <summary>
/// Transfer files (<c>flowguide eval --transfer FILE</c>): one job per line, <c>SOURCE | TARGET PROMPT</c>, blank lines and
/// <c>#</c> comments skipped. SOURCE is <c>world:SPLIT:INDEX</c> (a motion-world clip, rendered at the model's frame
/// count and size when the evaluation starts; SPLIT is heldout, test, validation or train) or a video path (anything
/// <see cref="SourceVideo.Read"/> takes). A relative path is looked up from the file's folder upwards, the first folder
/// where it exists winning, so <c>../shared/data/...</c> works from a checkout and from a worktree that sits deeper.
/// </summary>
public static class TransferJobs
{
    /// <summary>Separates the source from the prompt on a line.</summary>
    public const char Separator = '|';

    /// <summary>The prefix of a motion-world source.</summary>
    public const string WorldPrefix = "world:";

    /// <summary>
    /// Reads and checks a transfer file: every line has a source and a prompt, world references parse, file sources
    /// exist, no (source, prompt) pair repeats. Errors are <see cref="InvalidDataException"/> (or
    /// <see cref="FileNotFoundException"/>) naming the file, the line and what was expected.
    /// </summary>
    public static List<TransferJob> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"transfer file '{path}' does not exist.", path);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var jobs = new List<TransferJob>();
        var seen = new Dictionary<(string, string), int>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int bar = line.IndexOf(Separator);
            string source = bar < 0 ? "" : line[..bar].Trim(), prompt = bar < 0 ? "" : line[(bar + 1)..].Trim();
            if (bar < 0 || source.Length == 0 || prompt.Length == 0)
                throw new InvalidDataException($"transfer file '{path}' line {lineNo}: expected 'SOURCE {Separator} TARGET PROMPT' (SOURCE world:SPLIT:INDEX or a video path), got '{line}'.");
            if (prompt.Contains(Separator))
                throw new InvalidDataException($"transfer file '{path}' line {lineNo}: the prompt contains a second '{Separator}'; one '{Separator}' separates the source from the prompt.");
            if (seen.TryGetValue((source, prompt), out int first))
                throw new InvalidDataException($"transfer file '{path}' line {lineNo}: repeats the source and prompt of line {first}; each job must appear once.");
            seen[(source, prompt)] = lineNo;
            if (source.StartsWith(WorldPrefix, StringComparison.OrdinalIgnoreCase))
            {
                if (!TryParseWorld(source, out var world))
                    throw new InvalidDataException($"transfer file '{path}' line {lineNo}: '{source}' is not a world reference; expected world:SPLIT:INDEX with SPLIT heldout, test, validation or train and INDEX in [0, 2^40).");
                jobs.Add(new TransferJob(lineNo, source, prompt, world, null));
            }
            else
            {
                var full = Resolve(folder, source)
                           ?? throw new FileNotFoundException($"transfer file '{path}' line {lineNo}: source '{source}' does not exist (relative paths are looked up from '{folder}' and each folder above it).", source);
                jobs.Add(new TransferJob(lineNo, source, prompt, null, full));
            }
        }
        if (jobs.Count == 0) throw new InvalidDataException($"transfer file '{path}' holds no jobs (blank lines and # comments are skipped).");
        return jobs;
    }

    /// <summary>Parses <c>world:SPLIT:INDEX</c> (case-insensitive split; <c>held-out</c> accepted).</summary>
    public static bool TryParseWorld(string text, out (WorldSplit Split, long Index) world)
    {
        world = default;
        var parts = text.Split(':');
        if (parts.Length != 3 || !parts[0].Equals("world", StringComparison.OrdinalIgnoreCase)) return false;
        var split = ParseSplit(parts[1]);
        if (split is null || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long index) || index >= MotionWorld.SplitSize)
            return false;
        world = (split.Value, index);
        return true;
    }

    /// <summary>The reference text of a world clip, as a transfer file writes it.</summary>
    public static string WorldReference(WorldSplit split, long index) =>
        string.Create(CultureInfo.InvariantCulture, $"{WorldPrefix}{SplitName(split)}:{index}");

    /// <summary>A split by its name (case-insensitive; <c>held-out</c> accepted), null when it names none.</summary>
    public static WorldSplit? ParseSplit(string name) => name.ToLowerInvariant() switch
    {
        "heldout" or "held-out" => WorldSplit.HeldOut,
        "test" => WorldSplit.Test,
        "validation" => WorldSplit.Validation,
        "train" => WorldSplit.Train,
        _ => null,
    };

    /// <summary>The split's name in world references and in <c>flowguide prompts --split</c>.</summary>
    public static string SplitName(WorldSplit split) => split switch
    {
        WorldSplit.HeldOut => "heldout",
        WorldSplit.Test => "test",
        WorldSplit.Validation => "validation",
        _ => "train",
    };

    /// <summary>An absolute path as it is; a relative one against <paramref name="folder"/> and each folder above it; null when none exists.</summary>
    internal static string? Resolve(string folder, string relative)
    {
        if (System.IO.Path.IsPathRooted(relative)) return File.Exists(relative) || Directory.Exists(relative) ? System.IO.Path.GetFullPath(relative) : null;
        for (var d = new DirectoryInfo(folder); d is not null; d = d.Parent)
        {
            string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(d.FullName, relative));
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>
    /// Reads a file source and fits it to <paramref name="frames"/> x <paramref name="height"/> x <paramref name="width"/>
    /// (uniform frame sampling, centre crop: <c>flowguide transfer</c>'s defaults), or renders a world clip at that
    /// size. Nothing is encoded yet, so this runs before the model loads and a bad source costs no model time.
    /// </summary>
    public static (Tensor Video, WorldPrompt? Caption, List<string> Warnings) Conform(TransferJob job, int frames, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.World is var (split, index))
        {
            var spec = MotionWorld.Sample(index, split, frames, width, height);
            var clip = MotionWorld.Render(spec);
            var caption = WorldPrompt.Parse(CaptionGrammar.Describe(spec));
            return (clip.Video, caption, new List<string>());
        }
        var video = SourceVideo.Read(job.Path!);
        var (tensor, _, warnings) = SourceVideo.Conform(video, job.Source, frames, height, width, new SourceVideoOptions());
        return (tensor.Reshape(3, frames, height, width), null, warnings); // [1, 3, F, H, W] -> [3, F, H, W]
    }

    /// <summary>A conformed source encoded with <paramref name="autoencoder"/> (no gradients recorded).</summary>
    public static TransferSource Encode(TransferJob job, Tensor video, WorldPrompt? caption, IReadOnlyList<string> warnings, IVideoAutoencoder autoencoder)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(video);
        var latent = SourceVideo.Encode(autoencoder, video.Reshape(1, 3, video.Size(1), video.Size(2), video.Size(3))); // [1, 3, F, H, W]
        return new TransferSource(job.Source, video, latent, caption, warnings);
    }
}
