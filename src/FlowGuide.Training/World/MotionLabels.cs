using FlowGuide.Training.World.Analysis;

namespace FlowGuide.Training.World;

/// <summary>
/// The motion-world's labels for a latent motion classifier: what a caption says moves, as one of 24 classes — the 16
/// verb phrases of <see cref="MotionClass"/> ("moves left" ... "stays still") followed by the 8 camera pans ("pans left"
/// ... "pans down and right"). A clip and the prompt that describes it get the same label.
/// </summary>
public static class MotionLabels
{
    private static readonly int MotionCount = Enum.GetValues<MotionClass>().Length;

    /// <summary>The class names in label order.</summary>
    public static IReadOnlyList<string> Names { get; } =
        Enum.GetValues<MotionClass>().Select(m => m.VerbPhrase())
            .Concat(Enum.GetValues<Direction>().Select(d => "pans " + d.Words())).ToArray();

    /// <summary>
    /// The subjects a conditional classifier is told about, in index order: the colour words. A clip's shapes have
    /// distinct colours, so the colour picks out the shape its caption is about (the one that pans by under a camera pan).
    /// </summary>
    public static IReadOnlyList<string> Subjects { get; } = Enum.GetValues<ColorName>().Select(c => c.Word()).ToArray();

    /// <summary>The subject index of a clip: its captioned shape's colour.</summary>
    public static int SubjectOf(ClipSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return (int)spec.Shapes[spec.Subject].Color;
    }

    /// <summary>The subject index a prompt names: its first shape's colour.</summary>
    public static int SubjectOf(WorldPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return (int)prompt.Subject.Color;
    }

    /// <summary>The (class name, subject name) a prompt asks for when it parses under the caption grammar, else null.</summary>
    public static (string Class, string Subject)? TargetOf(string prompt) =>
        WorldPrompt.TryParse(prompt, out var p, out _) ? (Names[Of(p!)], Subjects[SubjectOf(p!)]) : null;

    /// <summary>The label of a clip: its camera pan when it has one, else its subject's motion.</summary>
    public static int Of(ClipSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Pan is { } pan) return MotionCount + (int)CaptionGrammar.DirectionOf(pan.VelocityX, pan.VelocityY);
        return (int)CaptionGrammar.ClassOf(spec.Shapes[spec.Subject]);
    }

    /// <summary>The label a prompt asks for: its camera pan when it has one, else its subject's motion.</summary>
    public static int Of(WorldPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return prompt.Pan is { } pan ? MotionCount + (int)pan : (int)prompt.Motion;
    }

    /// <summary>The label of a prompt's class name in <see cref="Names"/> when the prompt parses under the caption grammar, else null.</summary>
    public static string? NameOf(string prompt) =>
        WorldPrompt.TryParse(prompt, out var p, out _) ? Names[Of(p!)] : null;
}
