"""Text-to-image: a diffusers pipeline (Stable Diffusion, SDXL, Flux, ...) loaded from any source.

Every image is drawn from a torch.Generator seeded per image (seed, seed + 1, ...), so the seeds a
response echoes make every image again. Options in the profile:
    dtype            float16 / bfloat16 on CUDA (float32 on the CPU)
    variant          the weight files to fetch, e.g. fp16 (hub repositories that ship them)
    attention_slicing  compute attention in slices: less GPU memory, a little slower
    cpu_offload      keep each sub-model in CPU memory until its turn (needs CUDA; least GPU memory)
    width, height, steps, guidance_scale   the model's defaults for requests that leave them out
"""
import io
import json

from ..contract import InputError
from .base import ModelWrapper

SEED_SPACE = 2**32


def image_seeds(seed: int, count: int) -> list[int]:
    """The seed of each image of a request: seed, seed + 1, ..., wrapping within 32 bits."""
    return [(seed + i) % SEED_SPACE for i in range(count)]


def encode_png(image, parameters: dict) -> bytes:
    """PNG bytes that carry how they were made (a tEXt chunk `aiqa`); same input, same bytes."""
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_text("aiqa", json.dumps(parameters, sort_keys=True))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _load_pipeline(source, dtype, options: dict):
    """AutoPipelineForText2Image knows the text-to-image families; DiffusionPipeline takes the rest."""
    from diffusers import AutoPipelineForText2Image, DiffusionPipeline
    kwargs = {"dtype": dtype, "use_safetensors": True, "revision": None if source.local else source.revision}
    if options.get("variant"):
        kwargs["variant"] = options["variant"]
    try:
        return AutoPipelineForText2Image.from_pretrained(source.path, **kwargs)
    except ValueError:  # a pipeline class AutoPipeline has no mapping for
        return DiffusionPipeline.from_pretrained(source.path, **kwargs)


def _place(pipe, device: str, options: dict) -> None:
    if options.get("attention_slicing"):
        pipe.enable_attention_slicing()
    if options.get("cpu_offload"):
        if not device.startswith("cuda"):
            raise ValueError("cpu_offload needs a CUDA device")
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)


def _default_size(pipe) -> int:
    """The pipeline's own default side: latent sample size (SDXL, Flux name it) times the VAE's scale."""
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    sample_size = getattr(pipe, "default_sample_size", None) or getattr(
        getattr(denoiser, "config", None), "sample_size", None)
    scale = getattr(pipe, "vae_scale_factor", 8)
    return int(sample_size * scale) if isinstance(sample_size, int) else 512


class TextToImage(ModelWrapper):
    task = "text-to-image"
    capabilities = frozenset({"images"})

    def __init__(self, spec, *, pipeline, **kwargs):
        super().__init__(spec, **kwargs)
        self.pipeline = pipeline
        options, size = spec.options, _default_size(pipeline)
        self.defaults = {
            "width": int(options.get("width", size)), "height": int(options.get("height", size)),
            "steps": int(options.get("steps", 30)), "guidance_scale": float(options.get("guidance_scale", 7.5)),
        }
        # A scheduler cannot take more steps than its training schedule has (less its offset:
        # DDIM with steps_offset 1 fails at 1000 of 1000 steps).
        config = pipeline.scheduler.config
        self.max_steps = int(getattr(config, "num_train_timesteps", None) or 1000) - int(getattr(config, "steps_offset", 0) or 0)

    @classmethod
    def load(cls, spec, source, device, dtype):
        pipe = _load_pipeline(source, dtype, spec.options)
        _place(pipe, device, spec.options)
        pipe.set_progress_bar_config(disable=True)
        return cls(spec, pipeline=pipe, device=device, dtype=dtype, revision=source.revision, source=source.uri)

    def warmup(self) -> None:
        self.generate(prompt="Warm-up.", seeds=[0], **{**self.defaults, "steps": 1})

    def calibration_calls(self):
        def run(steps):
            return lambda: self.generate(prompt="Calibration.", seeds=[0], **{**self.defaults, "steps": steps})
        return [("images", "step-pixel", run(1)), ("images", "step-pixel", run(2))]

    def describe(self) -> dict:
        return {**super().describe(), "pipeline": type(self.pipeline).__name__, "defaults": self.defaults,
                "max_steps": self.max_steps}

    def generate(self, *, prompt: str, seeds: list[int], width: int, height: int, steps: int,
                 guidance_scale: float, negative_prompt: str | None = None, on_step=None, budget=True) -> list:
        """One PIL image per seed. on_step(step, steps) runs after every denoising step; an exception
        it raises ends the run there (that is how a cancelled job stops). `budget`: refuse work over
        the request's budget (service.admission); a job, which has no request to finish within, has
        none."""
        import torch
        units = steps * width * height * len(seeds)
        cost = self.admit("images", units, "steps", unit="step-pixel") if budget else self.cost("images", "step-pixel")
        generators = [torch.Generator(self.device).manual_seed(seed) for seed in seeds]
        kwargs = {}
        if on_step is not None:
            kwargs["callback_on_step_end"] = _step_callback(on_step, steps)
        if negative_prompt is not None:
            kwargs["negative_prompt"] = negative_prompt
        try:
            with self.forward(len(seeds)), cost.timed(1, units):
                return self.pipeline(
                    prompt=prompt, width=width, height=height, num_inference_steps=steps,
                    guidance_scale=guidance_scale, num_images_per_prompt=len(seeds), generator=generators,
                    output_type="pil", **kwargs).images
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise InputError(
                None, "num_images", f"{len(seeds)} image(s) of {width}x{height} do not fit in {self.name!r}'s "
                "device memory; ask for fewer or smaller images", hint="Too many or too large to fit.",
                too_large=True) from None


def _step_callback(on_step, steps: int):
    def callback(pipe, index, timestep, callback_kwargs):
        # Second-order schedulers run more model steps than asked for; count what the pipeline runs.
        on_step(index + 1, getattr(pipe, "num_timesteps", None) or steps)
        return callback_kwargs
    return callback
