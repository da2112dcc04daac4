using FlowGuide.Tensors;

namespace FlowGuide.Models;

/// <summary>
/// The decoding half of a video VAE as the sampling pipeline needs it: the latent layout (channels and compression
/// factors, from which the pipeline derives the latent shape of a requested video) and <see cref="Decode"/>.
/// Latents on this interface are in the diffusion model's space, i.e. already normalised with the VAE's per-channel
/// mean and std (Wan: <c>z_model = (z - mean) / std</c>); implementations undo that before decoding.
/// </summary>
public interface IVideoDecoder
{
    /// <summary>Latent channels (16 for Wan2.1's VAE).</summary>
    int LatentChannels { get; }

    /// <summary>Frames per latent frame after the first (4 for Wan): F video frames give 1 + (F - 1) / factor latent frames.</summary>
    int TemporalFactor { get; }

    /// <summary>Pixels per latent pixel along height and width (8 for Wan).</summary>
    int SpatialFactor { get; }

    /// <summary>
    /// Video [B, 3, 1 + (F' - 1) * TemporalFactor, H' * SpatialFactor, W' * SpatialFactor] with values about [-1, 1] for
    /// a latent [B, LatentChannels, F', H', W']. Differentiable with respect to the latent (MotionPrompt decodes
    /// predicted clean latents inside its loss).
    /// </summary>
    Tensor Decode(Tensor latent);
}

/// <summary>A video VAE with both halves: <see cref="Encode"/> maps a video to the model-space latent (FlowMotion encodes its source video).</summary>
public interface IVideoAutoencoder : IVideoDecoder
{
    /// <summary>
    /// Latent [B, LatentChannels, 1 + (F - 1) / TemporalFactor, H / SpatialFactor, W / SpatialFactor] (the posterior
    /// mean, normalised to model space) for video [B, 3, F, H, W] in [-1, 1]; F must be of the form k * TemporalFactor + 1.
    /// </summary>
    Tensor Encode(Tensor video);
}
