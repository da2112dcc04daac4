using FlowGuide.Tensors;

namespace FlowGuide.Models.Text;

/// <summary>
/// A prompt encoder for the video transformer's cross-attention. Encoding is split in two so that guidance can
/// optimise token embeddings directly (MotionPrompt appends learnable tokens): <see cref="Tokenize"/> maps text to ids,
/// <see cref="Embed"/> looks the ids up, and <see cref="EncodeEmbeddings"/> runs the encoder layers on (possibly edited,
/// differentiable) embeddings. <see cref="Encode"/> does all three.
/// </summary>
public interface ITextEncoder
{
    /// <summary>Width of the hidden states the encoder returns (4096 for UMT5-XXL).</summary>
    int OutputDim { get; }

    /// <summary>Width of the token embeddings fed to <see cref="EncodeEmbeddings"/>.</summary>
    int EmbeddingDim { get; }

    /// <summary>Context length the transformer expects: outputs are zero-padded (or truncated) to this many rows.</summary>
    int MaxLength { get; }

    /// <summary>Token ids for <paramref name="text"/>, without padding. Unknown words throw an ArgumentException naming them.</summary>
    int[] Tokenize(string text);

    /// <summary>Token embeddings [1, ids.Length, EmbeddingDim].</summary>
    Tensor Embed(int[] ids);

    /// <summary>Hidden states [1, MaxLength, OutputDim] for embeddings [1, n, EmbeddingDim]: real rows then zero rows.</summary>
    Tensor EncodeEmbeddings(Tensor embeddings);

    /// <summary>Tokenize, embed and encode.</summary>
    Tensor Encode(string text) => EncodeEmbeddings(Embed(Tokenize(text)));
}
