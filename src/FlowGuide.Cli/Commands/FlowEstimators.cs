using FlowGuide.Media;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Cli;

/// <summary>
/// What <c>flowguide flow</c> and <c>flowguide flow eval</c> share: the estimator chosen by <c>--method</c>, frame
/// loading that turns decoder failures into one-line <see cref="InvalidDataException"/>s, and the shipped-weights lookup.
/// </summary>
internal static class FlowEstimators
{
    /// <summary>Where the learned estimator's weights ship, relative to the repository (or FLOWGUIDE_MODELS) root.</summary>
    public const string LearnedWeightsRelative = "models/raft-small/raft-small.safetensors";

    /// <summary>Reads <c>--method</c> (classical or learned) and <c>--weights</c>; returns a frame-pair to flow function.</summary>
    public static Func<Tensor, Tensor, Tensor> FromArgs(Args args)
    {
        var method = args.String("method", "classical");
        var weights = args.String("weights");
        return method switch
        {
            "classical" => weights is null ? Classical()
                : throw new UsageException("--weights applies only to --method learned"),
            "learned" => Learned(weights ?? FindLearnedWeights()),
            _ => throw new UsageException($"--method expects 'classical' or 'learned', got '{method}'"),
        };
    }

    private static Func<Tensor, Tensor, Tensor> Classical()
    {
        var est = new ClassicalFlow(); // frames in [-1, 1]
        return (a, b) => est.Estimate(a, b);
    }

    private static Func<Tensor, Tensor, Tensor> Learned(string weightsPath)
    {
        if (!File.Exists(weightsPath))
            throw new FileNotFoundException($"learned flow weights not found: '{weightsPath}' is missing (train them with 'flowguide train flow', or pass --weights PATH or use --method classical).", weightsPath);
        var model = RaftSmall.Load(weightsPath);
        return (a, b) => model.Estimate(a, b);
    }

    /// <summary>The shipped RAFT-small weights (<see cref="ShippedFiles.Find"/>); the path returned may not exist.</summary>
    public static string FindLearnedWeights() => ShippedFiles.Find(LearnedWeightsRelative);

    /// <summary>Reads an image as [1, 3, H, W] in [-1, 1]; an unreadable file becomes a one-line IOException/InvalidDataException.</summary>
    public static Tensor ReadFrame(string path)
    {
        if (Directory.Exists(path)) throw new IOException($"'{path}' is a folder, expected an image file.");
        if (!File.Exists(path)) throw new FileNotFoundException($"image '{path}' not found.", path);
        try
        {
            return FlowFrames.Read(path, PixelRange.MinusOneToOne);
        }
        catch (MediaException ex)
        {
            throw new InvalidDataException($"cannot decode image '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Both frames of a pair, checked to have the same size.</summary>
    public static (Tensor Frame1, Tensor Frame2) ReadPair(string path1, string path2)
    {
        var f1 = ReadFrame(path1);
        var f2 = ReadFrame(path2);
        if (f1.Shape != f2.Shape)
            throw new ArgumentException($"frames differ in size: '{path1}' is {f1.Size(3)}x{f1.Size(2)}, '{path2}' is {f2.Size(3)}x{f2.Size(2)}; both frames must have the same width and height.");
        return (f1, f2);
    }

    /// <summary>Reads a ground-truth .flo; a malformed one is an InvalidDataException naming the file.</summary>
    public static Tensor ReadFlo(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ground-truth flow '{path}' not found.", path);
        return FlowIO.ReadFlo(path);
    }
}
