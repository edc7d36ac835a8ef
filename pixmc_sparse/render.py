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


def choose_backend() -> str | None:
    """Set MUJOCO_GL (and PyOpenGL's platform) before `mujoco` is imported; return the backend."""
    backend = os.environ.get("MUJOCO_GL")
    if not backend:
        if ctypes.util.find_library("EGL"):
            backend = "egl"
        elif ctypes.util.find_library("OSMesa"):
            backend = "osmesa"
        else:
            return None  # rendering will fail with FIX when (and only if) a pixel env is made
        os.environ["MUJOCO_GL"] = backend
    if backend in ("egl", "osmesa"):
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return backend


def make_renderer(model, height: int, width: int):
    """A `mujoco.Renderer` with shadows, reflections and skybox off (35x faster in software GL)."""
    import mujoco

    backend = os.environ.get("MUJOCO_GL") or "none found"
    try:
        renderer = mujoco.Renderer(model, height, width)
    except Exception as err:  # missing libEGL / libOSMesa, no DRI driver, bad MUJOCO_GL ...
        raise RenderingUnavailable(
            f"MuJoCo cannot render offscreen with MUJOCO_GL={backend}: {type(err).__name__}: {err}\n{FIX}"
        ) from None
    for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
        renderer.scene.flags[flag] = 0
    return renderer
