using FlowGuide.Models.Text;
using FlowGuide.Models.Video;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using FlowGuide.Training.World;
using Xunit;

namespace FlowGuide.Training.Tests;

public sealed class CaptionProbeTests
{
    private const string Caption = "a red circle slowly moves left past a blue square across a striped background";

    [Fact]
    public void EachAttributeRewordsOnlyItsOwnWords()
    {
        string Colour(string c) => Palette.ShapeColors[(Palette.ShapeColors.Select(x => x.Word()).ToList().IndexOf(c) + 3) % Palette.ShapeColors.Count].Word();
        string red = Colour("red"), blue = Colour("blue");
        Assert.Equal($"{(("aeiou".Contains(red[0])) ? "an" : "a")} {red} circle slowly moves left past {(("aeiou".Contains(blue[0])) ? "an" : "a")} {blue} square across a striped background",
            CaptionProbe.Edit(Caption, CaptionAttribute.Colour));
        Assert.Equal("a red star slowly moves left past a blue diamond across a striped background", CaptionProbe.Edit(Caption, CaptionAttribute.Shape));
        Assert.Equal("a red circle slowly moves right past a blue square across a striped background", CaptionProbe.Edit(Caption, CaptionAttribute.Motion));
        Assert.Equal("a red circle slowly moves left past a blue square across a gradient background", CaptionProbe.Edit(Caption, CaptionAttribute.Background));
        Assert.Equal("", CaptionProbe.Edit(Caption, CaptionAttribute.Everything));
        Assert.Equal("a green ring quickly shrinks on a plain gray background", CaptionProbe.Edit("a green ring quickly grows on a plain black background", CaptionAttribute.Motion) is { } m
            ? CaptionProbe.Edit(m, CaptionAttribute.Background) : null);
        Assert.Equal("the camera slowly pans down and left over a white star on a checkered background",
            CaptionProbe.Edit("the camera slowly pans up and right over a white star on a checkered background", CaptionAttribute.Motion));
        Assert.Equal("a cyan diamond quickly spins counterclockwise over a textured background",
            CaptionProbe.Edit("a cyan diamond quickly spins clockwise over a textured background", CaptionAttribute.Motion));
        // no time-reversible wording: nothing to probe
        Assert.Null(CaptionProbe.Edit("a red star slowly bounces around on a striped background", CaptionAttribute.Motion));
        Assert.Null(CaptionProbe.Edit("a red star slowly stays still on a striped background", CaptionAttribute.Motion));
    }

    [Fact]
    public void EditsOfWorldCaptionsStayInTheVocabularyAndChangeTheCaption()
    {
        var vocabulary = CaptionGrammar.Vocabulary.ToHashSet();
        int motion = 0;
        for (int i = 0; i < 200; i++)
        {
            string caption = MotionWorld.Generate(i, WorldSplit.Validation, 5, 16, 16).Caption;
            foreach (var a in new[] { CaptionAttribute.Colour, CaptionAttribute.Shape, CaptionAttribute.Motion, CaptionAttribute.Background })
            {
                var e = CaptionProbe.Edit(caption, a);
                if (a != CaptionAttribute.Motion) Assert.NotNull(e);   // every caption names a colour, a shape and a background
                if (e is null) continue;
                if (a == CaptionAttribute.Motion) motion++;
                Assert.NotEqual(caption, e);
                Assert.All(CaptionGrammar.Tokenize(e), w => Assert.Contains(w, vocabulary));
                Assert.Equal(CaptionGrammar.Tokenize(caption).Length, CaptionGrammar.Tokenize(e).Length);
            }
        }
        Assert.InRange(motion, 100, 199);   // most clips move in a direction, grow, shrink, orbit or spin; some bounce or stay
    }

    private static (WanTransformer3D Model, WordTextEncoder Text, CompactVae Vae) Tiny()
    {
        var text = new WordTextEncoder(WordTextEncoderConfig.Tiny with { MaxLength = 32 }, new Vocabulary(CaptionGrammar.Vocabulary), new Rng(1));
        return (new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(3)), text, new CompactVae(CompactVaeConfig.Tiny, new Rng(2)));
    }

    private static readonly CaptionProbeOptions Small = new() { Clips = 4, Frames = 5, Height = 16, Width = 16, Timesteps = new[] { 0.5, 0.9 } };

    [Fact]
    public void GapsAreDeterministicAndVanishWhenTheModelIgnoresTheText()
    {
        var (model, text, vae) = Tiny();
        var rows = CaptionProbe.Run(model, text, vae, Small);
        Assert.Equal(5 * 2, rows.Count);
        Assert.Equal(rows, CaptionProbe.Run(model, text, vae, Small));
        var everything = rows.Where(r => r.Attribute == CaptionAttribute.Everything).ToList();
        Assert.All(everything, r => { Assert.Equal(4, r.Clips); Assert.NotEqual(0, r.Gap); Assert.True(r.GapLow <= r.Gap && r.Gap <= r.GapHigh); });
        Assert.All(rows, r => Assert.Equal(r.Gap, r.EditedLoss - r.TrueLoss, 9));

        // with every cross-attention output zeroed the caption cannot reach the velocity: every gap is exactly 0
        foreach (var (name, p) in model.NamedParameters())
            if (name.Contains("attn2.to_out", StringComparison.Ordinal)) p.Span.Clear();
        Assert.All(CaptionProbe.Run(model, text, vae, Small), r => Assert.True(r.Clips == 0 || r.Gap == 0, $"{r.Attribute} at t {r.T}: gap {r.Gap}"));
    }

    [Fact]
    public void BadOptionsAreRefused()
    {
        var (model, text, vae) = Tiny();
        Assert.Contains("at least 2 clips", Assert.Throws<ArgumentException>(() => CaptionProbe.Run(model, text, vae, Small with { Clips = 1 })).Message);
        Assert.Contains("(0, 1)", Assert.Throws<ArgumentException>(() => CaptionProbe.Run(model, text, vae, Small with { Timesteps = new[] { 1.0 } })).Message);
        Assert.Contains("do not fit the VAE", Assert.Throws<ArgumentException>(() => CaptionProbe.Run(model, text, vae, Small with { Frames = 6 })).Message);
    }
}
