"""Emulated models: base models, custom model training, files and manifests (``Models_*``).

Training reads the datasets of ``state.stores.datasets``: only ``Succeeded`` datasets of
the model's locale, of a kind the base model adapts with, can be used. A model goes
``NotStarted`` -> ``Running`` -> ``Succeeded`` (with a ``ModelReport`` file), or ``Failed``
when one of its datasets was deleted meanwhile. Copies are in ``_model_copy``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from . import _model_copy
from ._base_models import adaptation_deprecated, custom_model_links, render_base_model
from ._entities import (
    ApiError,
    bad,
    check_fields,
    check_project,
    handler,
    id_of,
    not_found,
    path_id,
    read_json,
    ref_path,
    refers_to,
    resolve_ref,
    sas_minutes,
)
from ._entity_routes import Group, add_file
from ._filter import FILTERABLE
from ._state import EmulatorState, get_state, json_response, paginate
from ._stores import Entity

__all__ = ["register"]

_CREATE_FIELDS = (
    "displayName",
    "description",
    "customProperties",
    "locale",
    "baseModel",
    "datasets",
    "project",
    "properties",
)


def _refuse_if_deployed(state: EmulatorState, model: Entity) -> None:
    """A model an endpoint uses cannot be deleted."""
    model_id = id_of(model)
    for endpoint in state.stores.endpoints.values():
        if refers_to(endpoint.get("model"), model_id):
            raise ApiError(
                409,
                "Conflict",
                f"The model is used by the endpoint '{id_of(endpoint)}'; delete that first.",
                "InUseViolation",
            )


MODELS = Group(
    name="models",
    store=lambda stores: stores.models,
    filterable=FILTERABLE["models"],
    on_delete=_refuse_if_deployed,
)


def _base_model(state: EmulatorState, request: web.Request) -> Entity:
    model_id = path_id(request)
    if model_id not in state.stores.base_models:
        raise not_found("base model", model_id)
    return render_base_model(state, model_id)


async def list_locales(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    locales = {
        m["locale"]
        for m in state.stores.base_models.values()
        if m["properties"]["features"]["supportsAdaptationsWith"] and not adaptation_deprecated(m)
    }
    return json_response(sorted(locales))


async def list_base_models(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    items = [render_base_model(state, i) for i in state.stores.base_models]
    return paginate(request, state, items, filterable=FILTERABLE["base_models"])


async def get_base_model(request: web.Request) -> web.StreamResponse:
    return json_response(_base_model(get_state(request), request))


def _pick_base(state: EmulatorState, body: Mapping[str, Any], locale: str) -> dict[str, Any]:
    if body.get("baseModel") is not None:
        parts = ref_path(body["baseModel"], "baseModel", "InvalidBaseModel")
        if parts[:-1] != ["models", "base"] or parts[-1].lower() not in state.stores.base_models:
            raise bad(
                "The base model referenced by 'baseModel' does not exist.", "InvalidBaseModel"
            )
        base = render_base_model(state, parts[-1].lower())
    else:
        candidates = [
            render_base_model(state, i)
            for i, m in state.stores.base_models.items()
            if m["locale"] == locale and not adaptation_deprecated(m)
        ]
        if not candidates:
            raise bad(f"No base model can be adapted for the locale '{locale}'.", "InvalidLocale")
        base = max(candidates, key=lambda m: m["createdDateTime"])
    if base["locale"] != locale:
        raise bad(f"The base model is for '{base['locale']}', not '{locale}'.", "InvalidBaseModel")
    if adaptation_deprecated(base):
        raise bad("The base model can no longer be adapted; choose a newer one.", "ModelDeprecated")
    return base


def _datasets(state: EmulatorState, body: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    references = body.get("datasets")
    if not isinstance(references, list) or not references:
        raise bad("The property 'datasets' must list at least one dataset.", "InvalidDataset")
    kinds = base["properties"]["features"]["supportsAdaptationsWith"]
    ids = []
    for reference in references:
        dataset = resolve_ref(
            state.stores.datasets, {"datasets": reference}, "datasets", "datasets", "InvalidDataset"
        )
        assert dataset is not None
        name = f"The dataset '{id_of(dataset)}'"
        if dataset.get("status") != "Succeeded":
            inner = "FailedDataset" if dataset.get("status") == "Failed" else "InvalidDataset"
            raise bad(f"{name} is {dataset.get('status')}, not Succeeded.", inner)
        if dataset.get("locale") != body["locale"]:
            raise bad(f"{name} is for '{dataset.get('locale')}'.", "InvalidDataset")
        if dataset.get("kind") not in kinds:
            raise bad(
                f"The base model cannot be adapted with {dataset.get('kind')} datasets.",
                "InvalidAdaptationMapping",
            )
        ids.append(id_of(dataset))
    return ids


async def create_model(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    check_fields(body, _CREATE_FIELDS, required=("displayName", "locale"), create=True)
    check_project(state, body)
    weight = (body.get("properties") or {}).get("customModelWeightPercent")
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100
    ):
        raise bad("customModelWeightPercent must be an integer from 1 to 100.")
    base = _pick_base(state, body, body["locale"])
    dataset_ids = _datasets(state, body, base)
    model = MODELS.new_entity(state, body)
    features = {
        **base["properties"]["features"],
        "supportsTranscriptionsTranscribe": False,
    }
    del features["supportsAdaptationsWith"]
    model.update(
        {
            "status": "NotStarted",
            "baseModel": {"self": base["self"]},
            "datasets": [{"self": state.url(f"/datasets/{i}")} for i in dataset_ids],
            "links": custom_model_links(state, id_of(model)),
            "properties": {
                "deprecationDates": {
                    "transcriptionDateTime": base["properties"]["deprecationDates"][
                        "transcriptionDateTime"
                    ]
                },
                "customModelWeightPercent": weight if weight is not None else 30,
                "features": features,
            },
        }
    )

    async def train(state: EmulatorState, model: Entity) -> dict[str, str] | None:
        gone = [i for i in dataset_ids if i not in state.stores.datasets]
        if gone:
            return {"code": "FailedDataset", "message": f"The dataset '{gone[0]}' was deleted."}
        report = {"model": model["self"], "datasets": dataset_ids, "status": "Succeeded"}
        data = json.dumps(report).encode()
        add_file(state, MODELS.name, model, "report.json", "ModelReport", data)
        return None

    return await MODELS.create(state, model, train)


def _manifest(
    state: EmulatorState, model: Mapping[str, Any], base: Mapping[str, Any], minutes: int | None
) -> dict[str, Any]:
    if not base["properties"]["features"]["supportsTranscriptionsOnSpeechContainers"]:
        raise bad("The model does not run in speech containers.", "InvalidModel")
    folder = f"0_{base['locale'].upper().replace('-', '_')}_V4.14_UNI"
    names = [f"{folder}/adaptedPrepAM/model.fe", f"{folder}/graphV2/base.lms"]
    properties: dict[str, Any] = {
        "IN_FESpec": f"audio(%MODELSPATH%{folder}/adaptedPrepAM/model.fe)",
        "IN_HCLGSpecBase": f"interpolated_lm_base(%MODELSPATH%{folder}/graphV2/base.lms)",
        "IN_BeamSize": 5000,
    }
    if model is not base:
        custom = id_of(model)
        names += [f"{custom}/graphV2/custom.lms", f"{custom}/graphV2/custom.i1.hclg"]
        properties["IN_HCLGSpec"] = f"interpolated_lm_custom(%MODELSPATH%{custom}/graphV2/)"
    store = state.stores.blobs
    files = []
    for name in names:
        store.put(f"manifests/{name}", f"model file {name}\n".encode())
        url = store.sas_url(state.base_url, f"manifests/{name}", minutes)
        files.append({"name": name, "contentUrl": url})
    return {"model": {"self": model["self"]}, "modelFiles": files, "properties": properties}


async def get_base_manifest(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    minutes = sas_minutes(request, required=True)
    base = _base_model(state, request)
    return json_response(_manifest(state, base, base, minutes))


async def get_manifest(request: web.Request) -> web.StreamResponse:
    minutes = sas_minutes(request, required=True)
    state, model = MODELS.entity(request)
    if model["status"] != "Succeeded":
        raise bad(
            f"The model is {model['status']}; its manifest is available once it Succeeded.",
            "InvalidModel",
        )
    base_id = ref_path(model["baseModel"], "baseModel", "InvalidBaseModel")[-1].lower()
    if base_id not in state.stores.base_models:
        raise bad("The model's base model no longer exists.", "InvalidBaseModel")
    return json_response(_manifest(state, model, render_base_model(state, base_id), minutes))


def register(app: web.Application, state: EmulatorState) -> None:
    r = app.router
    # Literal paths first: ``/models/base`` and ``/models/locales`` are not model ids.
    r.add_get("/speechtotext/models/locales", handler(list_locales))
    r.add_get("/speechtotext/models/base", handler(list_base_models))
    r.add_get("/speechtotext/models/base/{id}", handler(get_base_model))
    r.add_get("/speechtotext/models/base/{id}/manifest", handler(get_base_manifest))
    _model_copy.register(app, state)
    MODELS.register(app, create=create_model)
    MODELS.register_files(app)
    r.add_get("/speechtotext/models/{id}/manifest", handler(get_manifest))
