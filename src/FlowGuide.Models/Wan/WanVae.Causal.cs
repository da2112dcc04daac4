namespace FlowGuide.Models.Wan;

/// <summary>
/// Wan's VAE decodes latent frame by latent frame with causal convolutions (the cache only carries earlier frames), so a
/// latent prefix decodes to exactly the matching prefix of the full video; see <see cref="VideoFrameDecoding"/>.
/// </summary>
public sealed partial class WanVae : ICausalVideoDecoder
{
}
