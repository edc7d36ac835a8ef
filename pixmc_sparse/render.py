"""Headless OpenGL for MuJoCo's offscreen renderer: pick a backend, fail with one clear message.

MuJoCo reads MUJOCO_GL ("egl", "osmesa", "glfw") once, when `mujoco` is first imported, so
`choose_backend()` runs in `pixmc_sparse/__init__.py` before anything imports `mujoco`. A
MUJOCO_GL set by the user is respected; otherwise EGL (software Mesa on CPU machines, the driver
on GPU machines) is preferred, then OSMesa. Nothing is probed until a pixel env builds its first
renderer; if that fails, `make_renderer` raises one error that names the packages to install.
State observations never touch OpenGL.
"""

from __future__ import annotations

import ctypes.util
import os

DEBIAN_PACKAGES = {"egl": "libegl1 libopengl0 libgl1-mesa-dri", "osmesa": "libosmesa6"}
FIX = (
    "Install a headless OpenGL on Debian/Ubuntu with\n"
    f"    sudo apt-get install -y --no-install-recommends {DEBIAN_PACKAGES['egl']}    (EGL, used by default)\n"
    f"or  sudo apt-get install -y --no-install-recommends {DEBIAN_PACKAGES['osmesa']}    (then set MUJOCO_GL=osmesa)\n"
    "State observations (obs_type='state') need no OpenGL."
)


class RenderingUnavailable(RuntimeError):
    """No working headless OpenGL backend for MuJoCo's offscreen renderer."""


LIBRARIES = {"egl": "EGL", "osmesa": "OSMesa"}
_problem: str | None = None  # why rendering cannot work, found before `mujoco` was imported


def choose_backend() -> str | None:
    """Set MUJOCO_GL (and PyOpenGL's platform) before `mujoco` is imported; return the backend. If the backend's
    library is missing, MuJoCo's GL is disabled instead (so that `import mujoco` and state observations still
    work) and the first renderer raises RenderingUnavailable."""
    global _problem
    backend = os.environ.get("MUJOCO_GL")
    if not backend:
        backend = next((b for b, lib in LIBRARIES.items() if ctypes.util.find_library(lib)), None)
        if backend is None:
            _problem = "no libEGL or libOSMesa found"
    elif backend in LIBRARIES and ctypes.util.find_library(LIBRARIES[backend]) is None:
        _problem = f"MUJOCO_GL={backend} but lib{LIBRARIES[backend]} is not installed"
        backend = None
    if backend is None:
        os.environ["MUJOCO_GL"] = "disable"
        return None
    os.environ["MUJOCO_GL"] = backend
    if backend in LIBRARIES:
        os.environ["PYOPENGL_PLATFORM"] = backend  # PyOpenGL (and dm_control) must agree with MuJoCo
    return backend


def check_available() -> None:
    """Raise RenderingUnavailable (with the packages to install) if choose_backend found no usable GL."""
    if _problem is not None:
        raise RenderingUnavailable(f"MuJoCo cannot render offscreen: {_problem}.\n{FIX}")


def make_renderer(model, height: int, width: int):
    """A `mujoco.Renderer` with shadows, reflections and skybox off (35x faster in software GL)."""
    import mujoco

    # MuJoCo refuses images larger than the model's offscreen framebuffer; that is not an OpenGL problem, so it must
    # not reach the RenderingUnavailable below (BatchedSim sizes the buffer to its images, so this is a bug guard)
    buffer = model.vis.global_
    if height > buffer.offheight or width > buffer.offwidth:
        raise ValueError(f"a {height}x{width} image does not fit the model's {buffer.offheight}x{buffer.offwidth} "
                         "offscreen buffer; raise model.vis.global_.offheight / offwidth before making the renderer")
    check_available()
    backend = os.environ.get("MUJOCO_GL")
    try:
        renderer = mujoco.Renderer(model, height, width)
    except Exception as err:  # missing libEGL / libOSMesa, no DRI driver, bad MUJOCO_GL ...
        raise RenderingUnavailable(
            f"MuJoCo cannot render offscreen with MUJOCO_GL={backend}: {type(err).__name__}: {err}\n{FIX}"
        ) from None
    for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
        renderer.scene.flags[flag] = 0
    return renderer
