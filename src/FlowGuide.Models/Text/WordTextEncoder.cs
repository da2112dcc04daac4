using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Text;

/// <summary>
/// Shape of a <see cref="WordTextEncoder"/>: embedding width, pre-norm transformer layers, heads, context length and
/// feed-forward width. The output width equals <see cref="Width"/> (the video model's text_dim).
/// </summary>
public sealed record WordTextEncoderConfig(int Width, int Layers, int Heads, int MaxLength, int FfnDim, float Eps = 1e-5f)
{
    /// <summary>For unit tests: width 16, 1 layer, 2 heads, 8 tokens.</summary>
    public static WordTextEncoderConfig Tiny { get; } = new(Width: 16, Layers: 1, Heads: 2, MaxLength: 8, FfnDim: 32);

    /// <summary>The shipped small model's encoder: width 256, 2 layers, 4 heads, 32 tokens, feed-forward 1024.</summary>
    public static WordTextEncoderConfig Small { get; } = new(Width: 256, Layers: 2, Heads: 4, MaxLength: 32, FfnDim: 1024);

    internal void Validate()
    {
        if (Width <= 0 || Layers < 0 || Heads <= 0 || MaxLength <= 0 || FfnDim <= 0)
            throw new ArgumentException($"WordTextEncoderConfig: sizes must be positive, got {this}.");
        if (Width % Heads != 0)
            throw new ArgumentException($"WordTextEncoderConfig: width {Width} is not divisible by {Heads} heads.");
    }
}

/// <summary>One pre-norm encoder layer: <c>x += attn(norm1(x))</c>, <c>x += linear2(gelu(linear1(norm2(x))))</c>.</summary>
public sealed class TextEncoderLayer : Module
{
    public TextEncoderLayer(WordTextEncoderConfig c, Rng rng)
    {
        Norm1 = Child("norm1", new LayerNorm(c.Width, c.Eps));
        Attn = Child("attn", new MultiHeadAttention(c.Width, c.Heads, rng));
        Norm2 = Child("norm2", new LayerNorm(c.Width, c.Eps));
        Linear1 = Child("linear1", new Linear(c.Width, c.FfnDim, bias: true, rng));
        Linear2 = Child("linear2", new Linear(c.FfnDim, c.Width, bias: true, rng));
    }

    public LayerNorm Norm1 { get; }
    public MultiHeadAttention Attn { get; }
    public LayerNorm Norm2 { get; }
    public Linear Linear1 { get; }
    public Linear Linear2 { get; }

    /// <summary>x [B, n, D] → [B, n, D].</summary>
    public Tensor Forward(Tensor x)
    {
        // 1. self-attention over the real tokens (padding is added after the encoder, so no mask is needed)
        x = Ops.Add(x, Attn.Forward(Norm1.Forward(x)));
        // 2. feed-forward
        x = Ops.Add(x, Linear2.Forward(Ops.Gelu(Linear1.Forward(Norm2.Forward(x)))));
        return x;
    }
}

/// <summary>
/// A small word-level prompt encoder for models trained here (the real Wan2.1 uses UMT5-XXL): a closed
/// <see cref="Vocabulary"/>, token embedding plus learned position embedding, pre-norm transformer layers, a final
/// LayerNorm. Like Wan's text pipeline, the output keeps one row per real token and zero rows after them up to
/// <see cref="MaxLength"/>, so the video model sees the same [1, L, D] layout whatever the prompt length.
/// </summary>
/// <remarks>
/// Parameter names: <c>token_embedding.weight</c>, <c>position_embedding</c>, <c>layers.{i}.norm1.*</c>,
/// <c>layers.{i}.attn.{to_q,to_k,to_v,to_out.0}.*</c>, <c>layers.{i}.norm2.*</c>, <c>layers.{i}.linear{1,2}.*</c>,
/// <c>final_norm.*</c>.
/// </remarks>
public sealed class WordTextEncoder : Module, ITextEncoder
{
    public WordTextEncoder(WordTextEncoderConfig config, Vocabulary vocabulary, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        if (vocabulary.Count == 0) throw new ArgumentException("WordTextEncoder: the vocabulary is empty.", nameof(vocabulary));
        Config = config;
        Vocabulary = vocabulary;
        TokenEmbedding = Child("token_embedding", new Embedding(vocabulary.Count, config.Width, rng));
        PositionEmbedding = Parameter("position_embedding", Init.Normal(rng, 0.02f, config.MaxLength, config.Width));
        Layers = Child("layers", new ModuleList<TextEncoderLayer>(Enumerable.Range(0, config.Layers).Select(_ => new TextEncoderLayer(config, rng))));
        FinalNorm = Child("final_norm", new LayerNorm(config.Width, config.Eps));
    }

    public WordTextEncoderConfig Config { get; }
    public Vocabulary Vocabulary { get; }
    public Embedding TokenEmbedding { get; }
    /// <summary>[MaxLength, Width], added to the token embeddings by position.</summary>
    public Tensor PositionEmbedding { get; }
    public ModuleList<TextEncoderLayer> Layers { get; }
    public LayerNorm FinalNorm { get; }

    public int OutputDim => Config.Width;
    public int EmbeddingDim => Config.Width;
    public int MaxLength => Config.MaxLength;

    /// <inheritdoc/>
    public int[] Tokenize(string text)
    {
        var ids = Vocabulary.Encode(text);
        if (ids.Length > MaxLength)
            throw new ArgumentException($"Tokenize: the prompt has {ids.Length} tokens; this encoder takes at most {MaxLength}.", nameof(text));
        return ids;
    }

    /// <inheritdoc/>
    public Tensor Embed(int[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        foreach (var id in ids)
            if ((uint)id >= (uint)Vocabulary.Count) throw new ArgumentException($"Embed: token id {id} is outside [0, {Vocabulary.Count}).", nameof(ids));
        if (ids.Length == 0) return Tensor.Zeros(1, 0, EmbeddingDim);
        return Ops.Reshape(TokenEmbedding.Forward(ids), 1, ids.Length, EmbeddingDim); // [1, n, E]
    }

    /// <summary>Tokenize, embed and encode: [1, MaxLength, Width].</summary>
    public Tensor Encode(string text) => EncodeEmbeddings(Embed(Tokenize(text)));

    /// <summary>
    /// Hidden states [B, MaxLength, Width] for embeddings [B, n, Width] (n ≤ MaxLength, n = 0 gives all zeros):
    /// real rows first, then exact zeros. Differentiable with respect to <paramref name="embeddings"/>, so appended
    /// learnable token embeddings (MotionPrompt) receive gradients.
    /// </summary>
    public Tensor EncodeEmbeddings(Tensor embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (embeddings.Rank != 3 || embeddings.Size(2) != EmbeddingDim)
            throw new ArgumentException($"EncodeEmbeddings: embeddings must be [B, n, {EmbeddingDim}], got {embeddings.Shape}.", nameof(embeddings));
        int b = embeddings.Size(0), n = embeddings.Size(1);
        if (n > MaxLength)
            throw new ArgumentException($"EncodeEmbeddings: {n} tokens; this encoder takes at most {MaxLength}.", nameof(embeddings));
        if (n == 0) return Tensor.Zeros(b, MaxLength, OutputDim);

        // 1. token + position embeddings
        var pos = Ops.Reshape(Ops.Narrow(PositionEmbedding, 0, 0, n), 1, n, EmbeddingDim); // [1, n, E]
        var x = Ops.Add(embeddings, pos);                                                    // [B, n, E]
        // 2. encoder layers
        foreach (var layer in Layers.Items) x = layer.Forward(x);
        // 3. final norm, then zero rows up to MaxLength
        x = FinalNorm.Forward(x);
        return Ops.Pad(x, new[] { (0, 0), (0, MaxLength - n), (0, 0) });                    // [B, MaxLength, D]
    }
}
