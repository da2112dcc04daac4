using FlowGuide.Models.Text;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests;

public class TextEncoderTests
{
    private static readonly string[] Words = { "a", "cat", "dog", "runs", "jumps", "over", "the", "red", "ball", ",", ".", "!", "don't", "left-to-right", "authentic" };

    private static WordTextEncoder Tiny(ulong seed = 1) => new(WordTextEncoderConfig.Tiny, new Vocabulary(Words), new Rng(seed));

    [Fact]
    public void SplitLowerCasesAndSeparatesPunctuation()
    {
        Assert.Equal(new[] { "a", "cat", ",", "the", "dog", "!" }, Vocabulary.Split("A Cat,  the DOG!"));
        Assert.Equal(new[] { "don't", "jump", "left-to-right", "." }, Vocabulary.Split("Don't jump left-to-right."));
        Assert.Equal(new[] { "-", "a", "'" }, Vocabulary.Split(" - a '"));
        Assert.Empty(Vocabulary.Split("   "));
    }

    [Fact]
    public void TokenizeMapsWordsToIds()
    {
        var enc = Tiny();
        Assert.Equal(new[] { 0, 1, 3, 9, 5, 6, 7, 8 }, enc.Tokenize("A cat runs, over the red ball"));
        Assert.Empty(enc.Tokenize(""));
    }

    [Fact]
    public void UnknownWordsThrowNamingThemAll()
    {
        var e = Assert.Throws<ArgumentException>(() => Tiny().Tokenize("A zebra jumps over a Yak"));
        Assert.Contains("'zebra'", e.Message);
        Assert.Contains("'yak'", e.Message);
        Assert.DoesNotContain("'jumps'", e.Message);
    }

    [Fact]
    public void TooManyTokensThrow()
    {
        var e = Assert.Throws<ArgumentException>(() => Tiny().Tokenize("a cat a cat a cat a cat a"));
        Assert.Contains("at most 8", e.Message);
        Assert.Throws<ArgumentException>(() => Tiny().EncodeEmbeddings(Tensor.Zeros(1, 9, 16)));
        Assert.Throws<ArgumentException>(() => Tiny().EncodeEmbeddings(Tensor.Zeros(1, 3, 15)));
    }

    [Fact]
    public void OutputIsPaddedWithExactZeros()
    {
        var enc = Tiny();
        var h = enc.Encode("the red ball");
        Assert.Equal(new[] { 1, 8, 16 }, h.Shape.ToArray());
        var d = h.ToArray();
        for (int r = 0; r < 8; r++)
        {
            var row = d.AsSpan(r * 16, 16).ToArray();
            if (r < 3) Assert.Contains(row, v => v != 0);
            else Assert.All(row, v => Assert.Equal(0f, v));
        }
        Assert.All(enc.Encode("").ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(d, ((ITextEncoder)enc).Encode("the red ball").ToArray());
    }

    [Fact]
    public void SameSeedSameWeightsAndPositionsMatter()
    {
        var a = Tiny(5).Encode("a cat runs").ToArray();
        Assert.Equal(a, Tiny(5).Encode("a cat runs").ToArray());
        Assert.NotEqual(a, Tiny(6).Encode("a cat runs").ToArray());
        // word order changes the result through the position embedding
        var b = Tiny(5).Encode("runs cat a").ToArray();
        Assert.NotEqual(a.AsSpan(0, 16).ToArray(), b.AsSpan(32, 16).ToArray());
    }

    [Fact]
    public void ParameterNames()
    {
        var names = Tiny().NamedParameters().Select(p => p.Key).ToList();
        Assert.Contains("token_embedding.weight", names);
        Assert.Contains("position_embedding", names);
        Assert.Contains("layers.0.attn.to_out.0.weight", names);
        Assert.Contains("layers.0.linear2.bias", names);
        Assert.Contains("final_norm.weight", names);
    }

    [Fact]
    public void GradientReachesAnAppendedTokenEmbedding()
    {
        var enc = Tiny();
        enc.Freeze();
        var prompt = enc.Embed(enc.Tokenize("a cat jumps"));                  // [1, 3, 16]
        var init = enc.Embed(enc.Tokenize("authentic"));                        // [1, 1, 16]
        var token = init.DetachedLeaf();
        var w = Tensor.Randn(new Rng(9), 1, 8, 16);

        Tensor Loss(Tensor t) => Ops.Sum(Ops.Mul(enc.EncodeEmbeddings(Ops.Concat(new[] { prompt, t }, 1)), w));

        var g = Autograd.Grad(Loss(token), new[] { token })[0];
        Assert.Equal(new[] { 1, 1, 16 }, g.Shape.ToArray());
        Assert.Contains(g.ToArray(), v => v != 0);

        // central differences on every element of the appended token
        const float eps = 1e-2f;
        var baseVals = token.ToArray();
        for (int i = 0; i < 16; i++)
        {
            double Eval(float delta)
            {
                using var _ = GradMode.NoGrad();
                var vals = (float[])baseVals.Clone();
                vals[i] += delta;
                return Loss(Tensor.FromArray(vals, 1, 1, 16)).Item();
            }
            double fd = (Eval(eps) - Eval(-eps)) / (2 * eps);
            double an = g.Span[i];
            Assert.True(Math.Abs(fd - an) <= 2e-3 + 2e-2 * Math.Abs(fd), $"element {i}: autograd {an}, finite difference {fd}");
        }
    }

    [Fact]
    public void VocabularyFileRoundTripAndErrors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vocab-{Guid.NewGuid():N}.txt");
        try
        {
            new Vocabulary(Words).Save(path);
            var v = Vocabulary.Load(path);
            Assert.Equal(Words, v.Words);
            Assert.Equal(2, v["dog"]);
        }
        finally { File.Delete(path); }
        Assert.Throws<ArgumentException>(() => new Vocabulary(new[] { "a", "A" }));
        Assert.Throws<ArgumentException>(() => new Vocabulary(new[] { "two words" }));
        Assert.Throws<FileNotFoundException>(() => Vocabulary.Load("/nonexistent/vocab.txt"));
    }
}
