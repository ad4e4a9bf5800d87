"""AdminService: the management center at national, each node's own status everywhere."""

from __future__ import annotations

import os

from ecnet.v1 import admin_service_pb2 as pb
from ecnet.v1 import admin_service_pb2_grpc, common_pb2
from node.clock import timestamp
from node.domain.regions import is_province, province_name, region_name
from node.errors import EcError, invalid

__all__ = ["AdminServicer"]

MAX_PAGE = 1000
_NODE_STATE = {"up": pb.NODE_STATE_UP, "down": pb.NODE_STATE_DOWN, "stopped": pb.NODE_STATE_STOPPED}
_KIND = {
    "official": common_pb2.CHANNEL_KIND_OFFICIAL,
    "third_party": common_pb2.CHANNEL_KIND_THIRD_PARTY,
}


def _page(page_size: int, default: int = 20) -> int:
    if page_size < 0:
        raise invalid("pageSize must not be negative")
    return min(page_size or default, MAX_PAGE)


def _token_int(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise invalid("pageToken is not one this node issued")
    return int(token)


class AdminServicer(admin_service_pb2_grpc.AdminServiceServicer):
    def __init__(self, node) -> None:  # node: node.app.Node (avoids an import cycle)
        self.node = node

    async def Ping(self, request, context):
        return pb.PingResponse()

    async def GetNodeInfo(self, request, context):
        node = self.node
        return pb.GetNodeInfoResponse(
            role=node.role_enum,
            province=node.config.province,
            address=node.address,
            version=node.config.version,
            instanceId=node.instance_id,
            startedAt=timestamp(node.started_at_ms),
            counts=await node.store.counts(),
            pid=os.getpid(),
        )

    def _national(self, what: str):
        if self.node.config.role != "national":
            raise EcError(
                -5,
                f"{what} is served by the national node, not by province {self.node.config.province}",
            )
        return self.node.store

    async def ListNodes(self, request, context):
        self._national("ListNodes")
        pending = await self.node.delivery.pending_counts()
        parked = await self.node.delivery.parked_counts()
        entries = []
        for row, status in await self.node.directory.nodes():
            entries.append(
                pb.NodeEntry(
                    province=row.province,
                    provinceName=province_name(row.province),
                    address=row.address,
                    version=row.version,
                    instanceId=row.instance_id,
                    state=_NODE_STATE[status],
                    registeredAt=timestamp(row.registered_at),
                    lastHeartbeatAt=timestamp(row.last_heartbeat_at),
                    appliedPosition=row.applied_position,
                    pendingEvents=pending.get(row.province, 0),
                    parkedEvents=parked.get(row.province, 0),
                )
            )
        return pb.ListNodesResponse(nodes=entries)

    async def RetryParked(self, request, context):
        """Queue a lane's parked events again (federation.delivery): at national a
        destination province's, at a province its uplink's."""
        node = self.node
        dest = request.destination
        if node.config.role == "national":
            if not is_province(dest):
                raise invalid(f"destination {dest!r} is not a province code")
            delivery = node.delivery
        else:
            from federation.delivery import UPLINK_LANE

            if dest not in ("", UPLINK_LANE):
                raise invalid(f"a province delivers only to {UPLINK_LANE!r}, not {dest!r}")
            delivery, dest = node.uplink, UPLINK_LANE
        requeued = await delivery.retry_parked(dest)
        return pb.RetryParkedResponse(
            events=[
                pb.ParkedEvent(
                    sequence=p.seq,
                    eventId=p.event_id,
                    kind=p.kind,
                    error=p.error,
                    parkedAt=timestamp(p.parked_at),
                )
                for p in requeued
            ]
        )

    async def ListPersons(self, request, context):
        store = self._national("ListPersons")
        province = request.insuredProvince
        if province and not (len(province) == 2 and province.isdigit()):
            raise invalid(f"insuredProvince {province!r} is not a 2-digit province code")
        limit = _page(request.pageSize)
        rows = await store.list_persons(province, limit, _token_int(request.pageToken))
        persons = [
            common_pb2.Person(
                userName=r.user_name,
                idType=r.id_type,
                idNo=r.id_no,
                gender=r.gender,
                birthday=r.birthday,
                nationality=r.nationality,
                phone=r.phone,
                insuredRegions=[
                    common_pb2.InsuredRegion(
                        insuOrg=g.insu_org,
                        insuType=g.insu_type,
                        insuOrgName=region_name(g.insu_org),
                    )
                    for g in r.insured
                ],
            )
            for r in rows
        ]
        token = str(rows[-1].person_id) if len(rows) == limit else ""
        return pb.ListPersonsResponse(persons=persons, nextPageToken=token)

    async def ListChannels(self, request, context):
        store = self._national("ListChannels")
        return pb.ListChannelsResponse(channels=[_channel(c) for c in await store.list_channels()])

    async def SetChannelStatus(self, request, context):
        """Channel control (node.voucher.channels)."""
        from node.services.voucher import lifecycle_of
        from node.voucher.channels import set_channel_status

        self._national("SetChannelStatus")
        row, changed = await set_channel_status(
            lifecycle_of(self.node), request.channelId, request.status, request.reason
        )
        return pb.SetChannelStatusResponse(channel=_channel(row), changed=changed)

    async def ListTerminals(self, request, context):
        store = self._national("ListTerminals")
        province = request.province
        if province and not (len(province) == 2 and province.isdigit()):
            raise invalid(f"province {province!r} is not a 2-digit province code")
        if request.pageToken and not (len(request.pageToken) == 20 and request.pageToken.isdigit()):
            raise invalid("pageToken is not one this node issued")
        limit = _page(request.pageSize, 100)
        rows = await store.list_terminals(province, limit, request.pageToken)
        return pb.ListTerminalsResponse(
            terminals=[
                common_pb2.Terminal(
                    terminalId=t.terminal_id,
                    province=t.province,
                    orgId=t.org_id,
                    orgName=t.org_name,
                    name=t.name,
                    purpose=t.purpose,
                    version=t.version,
                    developer=t.developer,
                    registeredOn=t.registered_on,
                    mac=t.mac,
                )
                for t in rows
            ],
            nextPageToken=rows[-1].terminal_id if len(rows) == limit else "",
        )

    async def UpdatePerson(self, request, context):
        """A change of the base registry (4.4): the rules are in node.voucher.registry."""
        from node.interceptor import current_caller
        from node.services.voucher import lifecycle_of, regions_pb
        from node.voucher import update_person
        from node.voucher.model import PersonUpdate, Region

        self._national("UpdatePerson")
        change = PersonUpdate(
            request.idType,
            request.idNo,
            request.newUserName,
            request.newIdType,
            request.newIdNo,
            tuple(Region(r.insuOrg, r.insuType) for r in request.insuredRegions),
        )
        r = await update_person(
            lifecycle_of(self.node), current_caller().describe(), change, request.requestId
        )
        p = r.person
        return pb.UpdatePersonResponse(
            person=common_pb2.Person(
                userName=p.user_name,
                idType=p.id_type,
                idNo=p.id_no,
                gender=p.gender,
                birthday=p.birthday,
                nationality=p.nationality,
                phone=p.phone,
                insuredRegions=regions_pb(p.insured),
            ),
            ecCardNo=r.ec_card_no,
            superseded=r.superseded,
            supersededEcCardNo=r.superseded_ec_card_no,
            version=r.version,
        )


def _channel(c) -> common_pb2.Channel:  # c: node.storage.national.ChannelRow
    msg = common_pb2.Channel(
        channelId=c.channel_id,
        name=c.name,
        kind=_KIND[c.kind],
        status=c.status,
        statusReason=c.status_reason,
    )
    if c.status_changed_at is not None:
        msg.statusChangedAt.CopyFrom(timestamp(c.status_changed_at))
    return msg
