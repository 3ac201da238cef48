"""Images in and out: load, orient, convert, resize, save with metadata.

Inside dreamer an image is a float32 array of shape (H, W, 3) with values in
[0, 1]. ``load_image`` turns whatever Pillow reads into that (plus the alpha
channel, if any, kept aside), and ``save_image`` turns it back into a file,
atomically, with the settings that made it in a PNG text chunk.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from dreamer.errors import ImageError, first_line
from dreamer.fileio import atomic_path, file_digest

#: Pillow refuses images above this many pixels (a decompression bomb guard).
MAX_PIXELS = 20_000 * 20_000

#: The PNG text chunk key that carries a result's settings.
METADATA_KEY = "dreamer"
#: The most a JPEG comment holds (one COM segment); settings longer than this are left out of a JPEG.
JPEG_COMMENT_LIMIT = 65_533


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: RGB in [0, 1], and the alpha channel in [0, 1] or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    icc_profile: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow says it."""
        return self.rgb.shape[1], self.rgb.shape[0]


def load_image(path: str | os.PathLike, max_size: int | None = None) -> LoadedImage:
    """Read an image file into float32 RGB in [0, 1].

    EXIF orientation is applied; grayscale, palette, 16-bit and CMYK images
    are converted; an animated or multi-page file gives its first frame.

    Args:
        path: the file to read.
        max_size: if given, downscale so that the long side is at most this.

    Raises:
        ImageError: the file is missing, empty, corrupt or not an image.
    """
    path = existing_file(path)
    return _decode(path, str(path), max_size)


def existing_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, checked to be a non-empty file (before anything reads it).

    Raises:
        ImageError: a folder, no such file, or an empty file.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    return path


def load_image_bytes(data: bytes, name: str, max_size: int | None = None) -> LoadedImage:
    """``load_image`` for a file's contents (a batch job carries bytes, not a path).

    Args:
        data: the file's bytes.
        name: the input's name, for messages.
        max_size: if given, downscale so that the long side is at most this.

    Raises:
        ImageError: empty, corrupt or not an image.
    """
    if not data:
        raise ImageError(f"{name}: empty file")
    return _decode(io.BytesIO(data), name, max_size)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) read from the file's header (nothing is decoded), under ``load_image``'s checks.

    Raises:
        ImageError: no such file, a folder, an empty file, too large, or not an image Pillow reads.
    """
    path = existing_file(path)
    with _reading(str(path)), Image.open(path) as img:
        return img.size


def _decode(source, name: str, max_size: int | None) -> LoadedImage:
    with _reading(name), Image.open(source) as img:
        img.seek(0)
        img.load()
        loaded = pil_to_loaded(img)
    if max_size is not None:
        loaded = fit_within(loaded, max_size)
    return loaded


@contextmanager
def _reading(name: str):
    """Pillow at dreamer's pixel limit, its errors turned into one-line ImageErrors naming ``name``."""
    try:
        with warnings.catch_warnings(), _pixel_limit(MAX_PIXELS):
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: image is too large (over {MAX_PIXELS:,} pixels)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{name}: cannot read image ({first_line(exc)})") from None


@contextmanager
def _pixel_limit(pixels: int):
    """Pillow's decompression-bomb limit set to ``pixels`` inside the block, and put back after it."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def pil_to_loaded(img: Image.Image) -> LoadedImage:
    """Convert a PIL image (any mode) to a LoadedImage, applying EXIF orientation."""
    img = ImageOps.exif_transpose(img)
    alpha = None
    if "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba, dtype=np.float32)[..., 3] / 255.0
        rgb = np.asarray(rgba.convert("RGB"), dtype=np.float32) / 255.0
    elif img.mode in ("I;16", "I;16B", "I;16L", "I"):
        rgb = _wide_gray_to_rgb(np.asarray(img))
    else:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    icc = img.info.get("icc_profile") or None
    return LoadedImage(np.ascontiguousarray(rgb, dtype=np.float32), alpha, icc)


def array_to_loaded(array: np.ndarray) -> LoadedImage:
    """Accept an HxWx3 (or HxWx4, or HxW) uint8 or float array as an image."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ImageError(f"expected an HxWx3 array, got shape {array.shape}")
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        array = np.clip(array.astype(np.float32), 0.0, 1.0)
    else:
        raise ImageError(f"expected a uint8 or float array, got {array.dtype}")
    alpha = array[..., 3].copy() if array.shape[-1] == 4 else None
    return LoadedImage(np.ascontiguousarray(array[..., :3]), alpha)


def fit_within(image: LoadedImage, max_size: int) -> LoadedImage:
    """Downscale so that the long side is at most ``max_size``; never upscale."""
    height, width = image.rgb.shape[:2]
    if max(height, width) <= max_size:
        return image
    scale = max_size / max(height, width)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    alpha = None if image.alpha is None else resize(image.alpha[..., None], shape)[..., 0]
    return LoadedImage(resize(image.rgb, shape), alpha, image.icc_profile)


def resize(array: np.ndarray, shape: tuple[int, int], clip: bool = True) -> np.ndarray:
    """Resize an HxWxC float32 array to ``shape`` (H, W) with Pillow's bicubic filter.

    Downscaling is antialiased. With ``clip`` (for images) values are clipped
    back into [0, 1]; without it (for signed detail layers) they are kept.
    """
    height, width = shape
    if array.shape[:2] == (height, width):
        return array.astype(np.float32, copy=True)
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(array[..., c], dtype=np.float32), mode="F").resize(
                (width, height), Image.Resampling.BICUBIC
            )
        )
        for c in range(array.shape[-1])
    ]
    out = np.stack(channels, axis=-1).astype(np.float32)
    return np.clip(out, 0.0, 1.0) if clip else out


def mask_weights(image: LoadedImage, shape: tuple[int, int]) -> np.ndarray:
    """A mask image -> HxW float32 weights in [0, 1] of ``shape`` (H, W).

    White is 1, black 0, grey between (the luminance, ITU-R 601); the mask is
    stretched to ``shape`` if its size differs.
    """
    luma = image.rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return resize(luma[..., None].astype(np.float32), shape)[..., 0]


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """float32 [0, 1] RGB (and optional alpha) -> an 8-bit PIL image."""
    rgb8 = np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    if alpha is None:
        return Image.fromarray(rgb8, mode="RGB")
    alpha8 = np.round(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(np.dstack([rgb8, alpha8]), mode="RGBA")


def writable_format(path: str | os.PathLike) -> str:
    """The Pillow format for a path's extension, or an ImageError if none writes it."""
    ext = Path(path).suffix.lower()
    Image.init()
    fmt = Image.EXTENSION.get(ext)
    if not ext:
        raise ImageError(f"{path}: output needs an extension such as .png, .jpg or .webp")
    if fmt is None or fmt not in Image.SAVE:
        raise ImageError(f"{path}: Pillow cannot write '{ext}' files (try .png, .jpg or .webp)")
    return fmt


def save_image(image: Image.Image, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write ``image`` to ``path`` atomically; the format follows the extension.

    A PNG gets ``metadata`` as JSON in a text chunk (key ``dreamer``), a
    JPEG as its comment. A
    format without alpha (JPEG) gets the image flattened on white. The
    input's colour profile (``image.info["icc_profile"]``) is kept where the
    format can carry one.

    Raises:
        ImageError: the extension is not writable, or the write failed
            (no space, no permission); no partial file is left.
    """
    path = Path(path)
    fmt = writable_format(path)
    image, params = _save_params(image, fmt, metadata)
    try:
        with atomic_path(path) as tmp:
            image.save(tmp, format=fmt, **params)
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({first_line(exc)})") from None
    return path


def encode_image(image: Image.Image, fmt: str, metadata: dict | None = None) -> bytes:
    """The bytes of ``image`` as a ``fmt`` file, by ``save_image``'s rules (metadata, profile, alpha).

    Raises:
        ImageError: Pillow could not encode it.
    """
    image, params = _save_params(image, fmt, metadata)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **params)
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot encode the image as {fmt} ({first_line(exc)})") from None
    return buffer.getvalue()


def _save_params(image: Image.Image, fmt: str, metadata: dict | None) -> tuple[Image.Image, dict]:
    """The image to write (flattened where the format has no alpha) and Pillow's save options."""
    params = {}
    if fmt == "PNG" and metadata is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, json.dumps(metadata, sort_keys=True))
        params["pnginfo"] = info
    elif fmt in ("JPEG", "WEBP"):
        params["quality"] = 95
        text = json.dumps(metadata, sort_keys=True).encode() if metadata is not None and fmt == "JPEG" else b""
        if 0 < len(text) <= JPEG_COMMENT_LIMIT:  # a JPEG carries it as its comment (COM segment)
            params["comment"] = text
    if image.info.get("icc_profile") and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        params["icc_profile"] = image.info["icc_profile"]
    if image.mode == "RGBA" and fmt in ("JPEG", "BMP", "PPM", "EPS", "PCX"):
        image = _flatten(image)
    return image, params


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The settings a dreamer PNG (its ``dreamer`` text chunk) or JPEG (its comment) carries, or None."""
    with Image.open(path) as img:
        text = getattr(img, "text", {}).get(METADATA_KEY)
        comment = img.info.get("comment") if img.format == "JPEG" else None
    if text is not None:
        return json.loads(text)
    try:
        found = json.loads(comment) if comment else None
    except ValueError:  # another program's comment
        return None
    return found if isinstance(found, dict) and "dreamer_version" in found else None


def _flatten(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _wide_gray_to_rgb(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float32)
    top = 65535.0 if values.max(initial=0) > 255 else 255.0
    gray = np.clip(values / top, 0.0, 1.0)
    return np.repeat(gray[..., None], 3, axis=-1)


def as_loaded(image, max_size: int | None = None) -> LoadedImage:
    """A path, PIL image, array or LoadedImage -> float32 RGB in [0, 1] (and alpha)."""
    from PIL import Image

    if isinstance(image, LoadedImage):
        return fit_within(image, max_size) if max_size else image
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, max_size)
    if isinstance(image, Image.Image):
        loaded = pil_to_loaded(image)
    elif isinstance(image, np.ndarray):
        loaded = array_to_loaded(image)
    else:
        raise ImageError(f"cannot dream on a {type(image).__name__}: give a path, a PIL image or an array")
    return fit_within(loaded, max_size) if max_size else loaded




def source_record(key: str, source) -> dict:
    """How an input, mask or guide was given, for the metadata: a file as ``{key: absolute path,
    key_sha256: its content hash}``, anything else as ``{key: "<its type>"}``."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).absolute()
        try:
            digest = file_digest(path)
        except OSError:
            digest = None
        return {key: str(path), f"{key}_sha256": digest}
    return {key: f"<{type(source).__name__}>"}
